import type { CompiledQuery } from 'kysely';
import type { Db } from './connect.js';

export interface PreparedSql<A extends unknown[]> {
  text: string;
  /** The parameters of one execution: these values where the stand-ins were, the rest as compiled. */
  params(...args: A): unknown[];
}

/**
 * A Kysely query compiled once, for a statement run so often that compiling it each time costs
 * more than running it. `standIns` are values passed to `build` in place of the real ones: each
 * must differ from the others and from every other value of the query (a value written once in
 * SQL, `sql.lit`, is no parameter), and must be found among the parameters at least once.
 */
export function prepareSql<A extends unknown[]>(build: (...args: A) => { compile(): CompiledQuery }, ...standIns: A): PreparedSql<A> {
  const { sql, parameters } = build(...standIns).compile();
  const slots = parameters.map((p) => standIns.indexOf(p));
  for (let i = 0; i < standIns.length; i++) if (!slots.includes(i)) throw new Error(`stand-in ${i} is not a parameter of: ${sql}`);
  return { text: sql, params: (...args) => parameters.map((p, i) => (slots[i] === -1 ? p : args[slots[i] ?? -1])) };
}

/**
 * `make(db)` once per database, kept with it (a statement compiled from that database's Kysely);
 * the next call for the same database answers the kept value.
 */
export function perDb<T>(make: (db: Db) => T): (db: Db) => T {
  const kept = new WeakMap<Db, T>();
  return (db) => {
    let value = kept.get(db);
    if (value === undefined) {
      value = make(db);
      kept.set(db, value);
    }
    return value;
  };
}

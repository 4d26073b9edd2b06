import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql, type Transaction } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

/** An open database: the Kysely handle plus what differs between dialects. */
export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  /**
   * Runs `fn` in a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so the write lock is taken
   * up front and a second process (the CLI beside a server) waits on busy_timeout instead of
   * failing on a lock upgrade.
   */
  writeTx<T>(fn: (trx: Kysely<Database> | Transaction<Database>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export function openDb(opts: { dataDir: string; databaseUrl: string | null }): Db {
  return opts.databaseUrl ? openPostgres(opts.databaseUrl) : openSqlite(join(opts.dataDir, 'longshot.db'));
}

export function openSqlite(file: string): Db {
  mkdirSync(join(file, '..'), { recursive: true });
  const raw = new SQLite(file);
  raw.pragma('journal_mode = WAL');
  // FULL: a commit is on disk before the API acknowledges it (holds and tasks must not vanish).
  raw.pragma('synchronous = FULL');
  raw.pragma('busy_timeout = 10000');
  raw.pragma('foreign_keys = ON');
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
  return {
    kysely,
    dialect: 'sqlite',
    writeTx: (fn) =>
      kysely.connection().execute(async (conn) => {
        await sql`begin immediate`.execute(conn);
        try {
          const result = await fn(conn);
          await sql`commit`.execute(conn);
          return result;
        } catch (err) {
          await sql`rollback`.execute(conn);
          throw err;
        }
      }),
    close: () => kysely.destroy(),
  };
}

export function openPostgres(url: string): Db {
  // int8 columns hold Unix ms and micro-dollars, all far below 2^53: read them as numbers.
  pg.types.setTypeParser(20, (v) => Number(v));
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    kysely,
    dialect: 'postgres',
    writeTx: (fn) => kysely.transaction().execute(fn),
    close: () => kysely.destroy(),
  };
}

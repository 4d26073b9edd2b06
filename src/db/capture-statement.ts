import { type Kysely, sql } from 'kysely';
import type { Db } from './connect.js';
import { quietRowWrite } from './pg-channels.js';
import { type PreparedSql, perDb, prepareSql } from './prepared-sql.js';
import type { Database } from './schema.js';
import type { SuccessFields } from './tasks-repo.js';

type Args = [id: string, leaseToken: string, now: number, ...fields: SuccessArgs];
type SuccessArgs = [
  engine: string,
  resultKey: string,
  posterKey: string,
  size: number,
  etag: string,
  durationMs: number,
  width: number,
  height: number,
  expiresAt: number,
];

/**
 * PostgreSQL: a task's success settled in one statement — the compare-and-set on the task row,
 * the capture in the ledger and the balance's move from held to captured — which commits on its
 * own, so the account's balance row stays locked only for the statement's end and its commit,
 * not for the round trips of a transaction, and a named statement is planned once per
 * connection instead of at every settle. Only a task without a callback settles so (its webhook
 * delivery row is written in services/settle-task.ts's transaction); for any other, and for a
 * compare-and-set that lost, nothing is written and the answer is false.
 *
 * Data-modifying WITH clauses all run, on one snapshot, in the one statement: the ledger entry and
 * the balance change exist exactly when the task row changed (they read its RETURNING), and the
 * ledger's unique (task_id, kind) index still refuses a second capture.
 */
export async function captureInOneStatement(db: Db, id: string, leaseToken: string, now: number, f: SuccessFields, quiet = false): Promise<boolean> {
  const s = preparedOf(db, quiet);
  const row = await db.selectOne<{ id: string }>(
    s.text,
    s.params(id, leaseToken, now, f.engine, f.result_key, f.poster_key, f.result_size, f.result_etag, f.duration_ms, f.width, f.height, f.expires_at),
  );
  return row !== undefined;
}

function captureQuery(
  k: Kysely<Database>,
  quiet: boolean,
  ...[id, leaseToken, now, engine, resultKey, posterKey, size, etag, durationMs, width, height, expiresAt]: Args
) {
  return k
    .with('won', (q) =>
      q
        .updateTable('tasks')
        .set({
          engine,
          result_key: resultKey,
          poster_key: posterKey,
          result_size: size,
          result_etag: etag,
          duration_ms: durationMs,
          width,
          height,
          expires_at: expiresAt,
          state: sql.lit('success'),
          complete_time: now,
          lease_token: null,
          lease_expires_at: null,
        })
        .where('id', '=', id)
        .where('state', '=', sql.lit('processing'))
        .where('lease_token', '=', leaseToken)
        // A callback task's delivery row needs the transaction (enqueueTaskCallback).
        .where((eb) => eb.or([eb('request_type', '<>', sql.lit('callback')), eb('callback_url', 'is', null)]))
        // Quiet: the row trigger stays silent for this write, whose NOTIFY the caller sends after
        // the commit (migration 0015); set here, it lasts to the end of the statement's transaction.
        .$if(quiet, (q) => q.where(quietRowWrite))
        .returning(['id', 'account_id', 'price_micros']),
    )
    .with('captured', (q) =>
      q
        .insertInto('ledger_entries')
        .columns(['account_id', 'kind', 'amount_micros', 'task_id', 'note', 'created_at'])
        .expression((eb) =>
          eb
            .selectFrom('won')
            .select(['won.account_id', sql.lit('capture').as('kind'), 'won.price_micros', 'won.id', sql.lit(null).as('note'), sql.val(now).as('created_at')])
            // A free task has no hold to settle (ledger-repo.ts settleHold).
            .where('won.price_micros', '<>', sql.lit(0)),
        ),
    )
    .with('moved', (q) =>
      q
        .updateTable('balances')
        .from('won')
        .set((eb) => ({
          held_micros: eb('balances.held_micros', '-', eb.ref('won.price_micros')),
          captured_micros: eb('balances.captured_micros', '+', eb.ref('won.price_micros')),
        }))
        .whereRef('balances.account_id', '=', 'won.account_id')
        .where('won.price_micros', '<>', sql.lit(0)),
    )
    .selectFrom('won')
    .select('won.id');
}

const preparedFor = (quiet: boolean) =>
  perDb((db) =>
    prepareSql(
      (...a: Args) => captureQuery(db.kysely, quiet, ...a),
      '\u0000id',
      '\u0000token',
      -1.5,
      '\u0000engine',
      '\u0000result',
      '\u0000poster',
      -2.5,
      '\u0000etag',
      -3.5,
      -4.5,
      -5.5,
      -6.5,
    ),
  );
const prepared = { loud: preparedFor(false), quiet: preparedFor(true) };
const preparedOf = (db: Db, quiet: boolean): PreparedSql<Args> => (quiet ? prepared.quiet : prepared.loud)(db);

import { type Kysely, sql } from 'kysely';
import type { Db } from './connect.js';
import { laneQueue } from './lane-queue.js';
import type { Database } from './schema.js';
import type { TaskRow } from './tasks-repo.js';

export type PlainSubmitOutcome = 'accepted' | 'short balance';

interface Job {
  row: TaskRow;
  /** Runs this submit on its own (the per-job path) when the batch it was in failed. */
  alone: () => Promise<PlainSubmitOutcome>;
  resolve: (outcome: PlainSubmitOutcome) => void;
  reject: (err: unknown) => void;
}

/**
 * Batches one API process runs at once (an account always in the same lane). One, measured: a
 * batch is ~6 statements whatever its size, so a second lane halves the batches and costs more
 * CPU per submit than it wins by running beside the first; on this 2-core machine 8 accounts went
 * from ~2,000 submits/s with 1 lane to ~1,100-1,400 with 2 or 4 (docs/performance.md). A machine
 * with cores to spare for PostgreSQL may want more.
 */
const LANES = 1;

const submitters = new WeakMap<Db, (row: TaskRow, alone: () => Promise<PlainSubmitOutcome>) => Promise<PlainSubmitOutcome>>();

/**
 * PostgreSQL submits that need nothing but a hold and a task row (no unfinished-task limit, no key
 * budget, no Idempotency-Key: submit-task.ts decides), run set-based. Group commit with one
 * transaction per submit inside the batch (group-commit.ts) still pays ~3 statements per submit,
 * each a network roundtrip, one after another while the batch holds the account's balance row, and
 * on a loaded machine a roundtrip costs a scheduling of the backend: ~500 submits/s for one account
 * (docs/performance.md). Here a batch is a constant number of statements whatever its size: lock
 * the balance rows of the batch's accounts (`FOR UPDATE`, in account order, as every batch and
 * group-commit batch takes them, so they cannot deadlock), decide every hold in order in JS
 * against the locked balances (exactly what the conditional UPDATE of placeHold decides one at a
 * time), then one UPDATE of the balances, one multi-row INSERT of the tasks and one of the
 * ledger's hold entries, and COMMIT; every caller is answered after it. When a statement fails
 * (nothing expected does: task ids are random) nothing of the batch is kept and each submit runs
 * again on its own, so one bad row cannot fail the others.
 */
export function plainSubmitter(db: Db): (row: TaskRow, alone: () => Promise<PlainSubmitOutcome>) => Promise<PlainSubmitOutcome> {
  let submit = submitters.get(db);
  if (!submit) {
    submit = makeSubmitter(db.kysely);
    submitters.set(db, submit);
  }
  return submit;
}

function makeSubmitter(kysely: Kysely<Database>) {
  const runBatch = (batch: Job[]) =>
    kysely.connection().execute(async (conn) => {
      const outcomes: PlainSubmitOutcome[] = [];
      try {
        await sql`begin`.execute(conn);
        const accounts = [...new Set(batch.map((j) => j.row.account_id))].sort();
        const balances = await conn
          .selectFrom('balances')
          .select(['account_id', 'credit_micros', 'held_micros', 'captured_micros'])
          .where('account_id', 'in', accounts)
          .orderBy('account_id')
          .forUpdate()
          .execute();
        const available = new Map(balances.map((b) => [b.account_id, Number(b.credit_micros) - Number(b.held_micros) - Number(b.captured_micros)]));
        const held = new Map<string, number>();
        const accepted: TaskRow[] = [];
        for (const { row } of batch) {
          const price = Number(row.price_micros);
          const left = available.get(row.account_id);
          // placeHold: a free task needs no balance; otherwise the available money must cover it.
          if (price > 0 && (left === undefined || left < price)) {
            outcomes.push('short balance');
            continue;
          }
          if (price > 0) {
            available.set(row.account_id, left! - price);
            held.set(row.account_id, (held.get(row.account_id) ?? 0) + price);
          }
          accepted.push(row);
          outcomes.push('accepted');
        }
        if (held.size > 0) {
          const values = sql.join([...held].map(([account, micros]) => sql`(${account}::text, ${micros}::bigint)`));
          await sql`update balances as b set held_micros = b.held_micros + v.micros from (values ${values}) as v(account_id, micros) where b.account_id = v.account_id`.execute(
            conn,
          );
        }
        if (accepted.length > 0) await conn.insertInto('tasks').values(accepted).execute();
        const holds = accepted.filter((r) => Number(r.price_micros) > 0);
        if (holds.length > 0) {
          await conn
            .insertInto('ledger_entries')
            .values(
              holds.map((r) => ({
                account_id: r.account_id,
                kind: 'hold',
                amount_micros: r.price_micros,
                task_id: r.id,
                note: null,
                created_at: r.create_time,
              })),
            )
            .execute();
        }
        await sql`commit`.execute(conn);
      } catch {
        await sql`rollback`.execute(conn).catch(() => undefined);
        // Each on its own (per-job group commit): its own error, if it has one, fails only it.
        for (const job of batch) job.alone().then(job.resolve, job.reject);
        return;
      }
      batch.forEach((job, i) => {
        job.resolve(outcomes[i]!);
      });
    });

  // A batch of lane-queue.ts's 256 submits at most: 36 task columns each stays far below
  // PostgreSQL's 65,535 parameters.
  const enqueue = laneQueue<Job>(
    LANES,
    (job) => job.row.account_id,
    // No connection to be had: each submit on its own path, which reports its own error.
    (batch) =>
      runBatch(batch).catch(() => {
        for (const job of batch) job.alone().then(job.resolve, job.reject);
      }),
  );

  return (row: TaskRow, alone: () => Promise<PlainSubmitOutcome>) =>
    new Promise<PlainSubmitOutcome>((resolve, reject) => {
      enqueue({ row, alone, resolve, reject });
    });
}

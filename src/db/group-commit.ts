import { type Kysely, sql } from 'kysely';
import { laneQueue } from './lane-queue.js';
import type { Database } from './schema.js';

type TxFn<T> = (trx: Kysely<Database>) => Promise<T>;
type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

interface Job {
  fn: TxFn<unknown>;
  /** Jobs of one key run in one lane, in the order asked (PostgreSQL: the account, see connect.ts). */
  key: string;
  /** Within a key, what a batch sorts by after the key (PostgreSQL: the API key, whose row a submit may lock). */
  order: string;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  outcome?: Outcome;
}

/**
 * PostgreSQL errors after which a job is run again instead of failing: a deadlock or
 * serialization failure (another transaction's fault as much as its own), and "current
 * transaction is aborted" (an earlier job of the batch went on after its own failed statement).
 */
const RETRYABLE = new Set(['40P01', '40001', '25P02']);
const retryable = (err: unknown) => RETRYABLE.has((err as { code?: unknown } | null)?.code as string);

export interface GroupCommitOptions {
  dialect: 'sqlite' | 'postgres';
  /** Batches that may run at once, each on its own connection (PostgreSQL; SQLite has one writer). */
  lanes?: number;
  /** SQLite: told when BEGIN IMMEDIATE took the write lock and when it was given back. */
  onWriteLock?: (held: boolean) => void;
}

/**
 * Group commit. Write transactions asked for while a batch runs (or in the same turn of the event
 * loop) run together in ONE transaction: on SQLite with `synchronous = FULL` every COMMIT waits
 * for an fsync, on PostgreSQL (`synchronous_commit` on) for a WAL flush, and on PostgreSQL a
 * transaction that raised an account's balance row holds its lock until COMMIT, so one
 * transaction per submit queues every submit of the account on that lock. A transaction that
 * throws rolls back only its own writes and rejects only its own caller, exactly as if it had run
 * alone. Every caller is answered after the COMMIT that contains its writes has returned, so
 * nothing is acknowledged before it is durable. The transactions of a batch run one after
 * another, in order, so each sees the writes of those before it (a balance check stays exact).
 *
 * SQLite: `BEGIN IMMEDIATE`, one lane, each transaction in its own SAVEPOINT (in-process, cheap).
 *
 * PostgreSQL: `BEGIN`, `lanes` batches at once, a job goes to the lane of its key (the account),
 * so one account's submits never wait for each other's row locks across lanes; a batch runs in
 * the order of its keys (then of `order`: the API key of a submit, which may lock its row for
 * the unfinished-task count), so two batches (lanes, or API processes) whose jobs lock only rows
 * of their own key's account (submits) take row locks in the same order and cannot deadlock each
 * other; a job caught in a deadlock anyway (40P01) is run again once, then fails as a
 * transaction of its own would. Every statement is a network roundtrip, so a batch first
 * runs WITHOUT savepoints (SAVEPOINT and RELEASE would be two more roundtrips per job, on a lane
 * whose jobs run one after another, and past 64 subtransactions PostgreSQL's snapshots slow down);
 * a job that throws makes the batch roll back, and it runs again without that job, now each job
 * in its own savepoint. So a job may run more than once: it must have no effect outside the
 * transaction. Callers that can refuse without having written anything return the refusal instead
 * of throwing (submit-task.ts), which costs nothing. On PostgreSQL an error inside a statement
 * aborts the whole transaction, so a job that catches its own statement's error and goes on
 * cannot commit the others: the next job fails with 25P02 and is run again, a check before COMMIT
 * (an aborted transaction's COMMIT rolls back without an error) catches the last job.
 */
export function groupCommitter(kysely: Kysely<Database>, opts: GroupCommitOptions): <T>(fn: TxFn<T>, key?: string, order?: string) => Promise<T> {
  const postgres = opts.dialect === 'postgres';
  const onWriteLock = opts.onWriteLock ?? (() => {});

  /** Runs jobs in order; without savepoints it stops at the first that throws and says which. */
  const runInOrder = async (conn: Kysely<Database>, jobs: Job[], savepoints: boolean): Promise<number> => {
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      if (!savepoints) {
        try {
          job.outcome = { ok: true, value: await job.fn(conn) };
        } catch (err) {
          job.outcome = { ok: false, err };
          return i;
        }
        continue;
      }
      await sql`savepoint gc`.execute(conn);
      try {
        const value = await job.fn(conn);
        // Fails on PostgreSQL when the job went on after a failed statement of its own.
        await sql`release gc`.execute(conn);
        job.outcome = { ok: true, value };
      } catch (err) {
        await sql`rollback to gc`.execute(conn);
        await sql`release gc`.execute(conn);
        job.outcome = { ok: false, err };
      }
    }
    return -1;
  };

  const runBatch = (batch: Job[]) =>
    kysely.connection().execute(async (conn) => {
      let pending = batch;
      // SQLite: savepoints whenever jobs share the transaction; PostgreSQL: only after a failure.
      let savepoints = !postgres && batch.length > 1;
      try {
        while (pending.length > 0) {
          await (postgres ? sql`begin` : sql`begin immediate`).execute(conn);
          onWriteLock(true);
          let failedAt = await runInOrder(conn, pending, savepoints);
          // An aborted transaction's COMMIT rolls back without an error: ask first. Who swallowed
          // the error is not known, so every job runs again, then in its own savepoint.
          if (failedAt < 0 && postgres && !savepoints && !(await stillOpen(conn))) failedAt = pending.length;
          if (failedAt < 0) {
            await sql`commit`.execute(conn);
            onWriteLock(false);
            break;
          }
          await sql`rollback`.execute(conn);
          onWriteLock(false);
          const failed = pending[failedAt];
          const again = failed === undefined || (failed.outcome?.ok === false && retryable(failed.outcome.err));
          // The failed job keeps its error unless it was not its own; everyone else runs again.
          pending = again ? pending : pending.filter((_, i) => i !== failedAt);
          savepoints = true;
        }
      } catch (err) {
        // A failed BEGIN/savepoint/COMMIT (or a single SQLite job's own error): nothing of
        // this batch is kept, and every caller in it hears so.
        await sql`rollback`.execute(conn).catch(() => undefined);
        onWriteLock(false);
        for (const job of batch) job.reject(err);
        return;
      }
      for (const job of batch) {
        const outcome = job.outcome!;
        if (outcome.ok) job.resolve(outcome.value);
        else job.reject(outcome.err);
      }
    });

  const enqueue = laneQueue<Job>(
    opts.lanes ?? 1,
    (job) => job.key,
    // runBatch settles every job itself; a failure to get the connection must not stall the queue.
    (batch) =>
      runBatch(batch).catch((err: unknown) => {
        for (const job of batch) job.reject(err);
      }),
    // Stable: one key's jobs keep the order they were asked in.
    postgres ? (batch) => [...batch].sort((a, b) => compare(a.key, b.key) || compare(a.order, b.order)) : undefined,
  );

  return <T>(fn: TxFn<T>, key = '', order = '') =>
    new Promise<T>((resolve, reject) => {
      enqueue({ fn: fn as TxFn<unknown>, key, order, resolve: resolve as (v: unknown) => void, reject });
    });
}

/** False when a statement of this PostgreSQL transaction failed (it can only roll back now). */
async function stillOpen(conn: Kysely<Database>): Promise<boolean> {
  try {
    await sql`select 1`.execute(conn);
    return true;
  } catch (err) {
    if ((err as { code?: unknown }).code === '25P02') return false;
    throw err;
  }
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

import { type Kysely, sql } from 'kysely';
import type { Database } from './schema.js';

type TxFn<T> = (trx: Kysely<Database>) => Promise<T>;

interface Job {
  fn: TxFn<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** Write transactions that share one commit, at most; bounds the latency a batch adds. */
const MAX_BATCH = 256;

/**
 * Group commit for SQLite. With `synchronous = FULL` every COMMIT waits for an fsync, and one
 * fsync per submit caps submits at the disk's fsync rate. Write transactions asked for while
 * the connection is busy (or in the same turn of the event loop) are therefore run together in
 * ONE `BEGIN IMMEDIATE … COMMIT`, each inside its own SAVEPOINT: a transaction that throws rolls
 * back only its own writes and rejects only its own caller, exactly as if it had run alone.
 * Every caller is answered after the COMMIT that contains its writes has returned, so nothing is
 * acknowledged before it is durable. The transactions still run one after another, in order, so
 * each sees the writes of those before it (a balance check stays exact).
 */
export function groupCommitter(kysely: Kysely<Database>, onWriteLock: (held: boolean) => void = () => {}): <T>(fn: TxFn<T>) => Promise<T> {
  let queue: Job[] = [];
  let scheduled = false;

  const runBatch = (batch: Job[]) =>
    kysely.connection().execute(async (conn) => {
      const outcomes: Array<{ ok: true; value: unknown } | { ok: false; err: unknown }> = [];
      try {
        await sql`begin immediate`.execute(conn);
        onWriteLock(true);
        if (batch.length === 1) {
          outcomes.push({ ok: true, value: await batch[0]!.fn(conn) });
        } else {
          for (const job of batch) {
            await sql`savepoint gc`.execute(conn);
            try {
              outcomes.push({ ok: true, value: await job.fn(conn) });
            } catch (err) {
              await sql`rollback to gc`.execute(conn);
              outcomes.push({ ok: false, err });
            }
            await sql`release gc`.execute(conn);
          }
        }
        await sql`commit`.execute(conn);
        onWriteLock(false);
      } catch (err) {
        // A single transaction's own error, or a failed BEGIN/savepoint/COMMIT: nothing of this
        // batch is kept, and every caller in it hears so.
        await sql`rollback`.execute(conn).catch(() => undefined);
        onWriteLock(false);
        for (const job of batch) job.reject(err);
        return;
      }
      batch.forEach((job, i) => {
        const outcome = outcomes[i]!;
        if (outcome.ok) job.resolve(outcome.value);
        else job.reject(outcome.err);
      });
    });

  const drain = async () => {
    while (queue.length > 0) {
      const batch = queue.length <= MAX_BATCH ? queue : queue.slice(0, MAX_BATCH);
      queue = queue.length <= MAX_BATCH ? [] : queue.slice(MAX_BATCH);
      // runBatch settles every job itself; a failure to get the connection must not stall the queue.
      await runBatch(batch).catch((err: unknown) => {
        for (const job of batch) job.reject(err);
      });
    }
    scheduled = false;
  };

  return <T>(fn: TxFn<T>) =>
    new Promise<T>((resolve, reject) => {
      queue.push({ fn: fn as TxFn<unknown>, resolve: resolve as (v: unknown) => void, reject });
      if (!scheduled) {
        scheduled = true;
        // Requests parsed in the same turn of the event loop join this first batch.
        setImmediate(() => void drain());
      }
    });
}

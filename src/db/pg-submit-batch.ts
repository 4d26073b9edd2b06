import { type Kysely, sql } from 'kysely';
import type { Db } from './connect.js';
import { laneQueue } from './lane-queue.js';
import { perDb } from './prepared-sql.js';
import type { Database } from './schema.js';
import type { TaskRow } from './tasks-repo.js';

/**
 * How a batched submit ended: its task and hold were written, the balance did not cover it, its
 * key had `maxUnfinished` unfinished tasks, or a current record of its Idempotency-Key exists
 * (the caller answers as that submit did).
 */
export type BatchOutcome = 'accepted' | 'short balance' | 'limit' | 'duplicate';

/** What the batch needs of one submit besides its task row. */
interface BatchExtras {
  /** The key's unfinished-task limit; 0: none. */
  maxUnfinished?: number;
  /** The Idempotency-Key, remembered with the task; a record older than `windowMs` is replaced. */
  idem?: { key: string; hash: string; windowMs: number };
}

interface Job extends BatchExtras {
  row: TaskRow;
  /** Runs this submit on its own (the per-job path) when the batch cannot decide it. */
  alone: () => Promise<BatchOutcome>;
  resolve: (outcome: BatchOutcome) => void;
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

type Submitter = (row: TaskRow, alone: () => Promise<BatchOutcome>, extras?: BatchExtras) => Promise<BatchOutcome>;

/**
 * PostgreSQL submits of keys without a budget (submit-task.ts decides), run set-based. Group
 * commit with one transaction per submit inside the batch (group-commit.ts) still pays ~3–6
 * statements per submit, each a network roundtrip, one after another while the batch holds the
 * account's balance row, and on a loaded machine a roundtrip costs a scheduling of the backend:
 * ~500–630 submits/s for one account (docs/performance.md). Here a batch is a constant number of
 * statements whatever its size:
 *
 * 1. lock the balance rows of the batch's accounts (`FOR UPDATE`, in account order, as every batch
 *    and group-commit batch takes them, so they cannot deadlock);
 * 2. for keys with an unfinished-task limit, lock their rows (as lockKey does; a per-job submit of
 *    the same key takes its key before the balance, so the two can deadlock, which PostgreSQL
 *    breaks and the loser runs again: it only happens while a key's submits take both paths) and
 *    count their unfinished tasks, which no other submit of these accounts can change meanwhile;
 * 3. decide every submit in order in JS: the key's limit, then the hold against the locked
 *    balance (exactly what countUnfinished and placeHold's conditional UPDATE decide one at a time);
 * 4. remember the Idempotency-Keys of the accepted ones in one upsert that replaces only expired
 *    records: a key with a current record is a duplicate, and what was decided after it with its
 *    hold counted is decided again on its own;
 * 5. one UPDATE of the balances, one multi-row INSERT of the tasks and one of the ledger's holds,
 *    and COMMIT; every caller is answered after it.
 *
 * When a statement fails (nothing expected does: task ids are random, duplicates are upserts)
 * nothing of the batch is kept and each submit runs again on its own, so one bad row cannot fail
 * the others.
 */
export const batchSubmitter: (db: Db) => Submitter = perDb((db) => makeSubmitter(db.kysely));

/** The outcomes of a batch, decided in order; 'alone' runs the submit on its own after the commit. */
type Decided = BatchOutcome | 'alone';

/** Each submit in order against the locked balances and counts, spending them as it accepts. */
function decide(batch: Job[], available: Map<string, number>, unfinished: Map<string, number>): Decided[] {
  const outcomes: Decided[] = [];
  const seen = new Set<string>();
  for (const { row, maxUnfinished = 0, idem } of batch) {
    // The same Idempotency-Key twice in one batch: the second waits for the first's commit.
    const idemId = idem && `${row.api_key_id}\u0000${idem.key}`;
    if (idemId !== undefined && seen.has(idemId)) {
      outcomes.push('alone');
      continue;
    }
    if (idemId !== undefined) seen.add(idemId);
    const open = unfinished.get(row.api_key_id) ?? 0;
    if (maxUnfinished > 0 && open >= maxUnfinished) {
      outcomes.push('limit');
      continue;
    }
    const price = Number(row.price_micros);
    const left = available.get(row.account_id);
    // placeHold: a free task needs no balance; otherwise the available money must cover it.
    if (price > 0 && (left === undefined || left < price)) {
      outcomes.push('short balance');
      continue;
    }
    if (price > 0) available.set(row.account_id, left! - price);
    unfinished.set(row.api_key_id, open + 1);
    outcomes.push('accepted');
  }
  return outcomes;
}

function makeSubmitter(kysely: Kysely<Database>) {
  const runBatch = (batch: Job[]) =>
    kysely.connection().execute(async (conn) => {
      let outcomes: Decided[];
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
        const limited = [...new Set(batch.filter((j) => (j.maxUnfinished ?? 0) > 0).map((j) => j.row.api_key_id))].sort();
        const unfinished = new Map<string, number>();
        if (limited.length > 0) {
          await conn.selectFrom('api_keys').select('id').where('id', 'in', limited).orderBy('id').forUpdate().execute();
          // A statement of its own: its snapshot is taken after the locks, so it sees every commit before them.
          const counts = await conn
            .selectFrom('tasks')
            .select(['api_key_id', (eb) => eb.fn.countAll<number>().as('n')])
            .where('api_key_id', 'in', limited)
            .where('state', 'in', ['pending', 'processing'])
            .groupBy('api_key_id')
            .execute();
          for (const c of counts) unfinished.set(c.api_key_id, Number(c.n));
        }
        outcomes = decide(batch, available, unfinished);
        const duplicates = await remember(conn, batch, outcomes);
        if (duplicates.size > 0) {
          // What came after a duplicate was decided with its hold and its place counted: those
          // refused then are decided again on their own, after the commit.
          const first = Math.min(...duplicates);
          outcomes = outcomes.map((o, i) => (duplicates.has(i) ? 'duplicate' : i > first && (o === 'short balance' || o === 'limit') ? 'alone' : o));
        }
        const accepted = batch.filter((_, i) => outcomes[i] === 'accepted').map((j) => j.row);
        const held = new Map<string, number>();
        for (const r of accepted) if (Number(r.price_micros) > 0) held.set(r.account_id, (held.get(r.account_id) ?? 0) + Number(r.price_micros));
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
        const o = outcomes[i]!;
        if (o === 'alone') job.alone().then(job.resolve, job.reject);
        else job.resolve(o);
      });
    });

  /**
   * The accepted submits' Idempotency-Keys, in one upsert that overwrites only records past their
   * window (rememberIdempotent deletes those first); answers the indexes of the batch whose key
   * has a current record: none of theirs was written.
   */
  async function remember(conn: Kysely<Database>, batch: Job[], outcomes: Decided[]): Promise<Set<number>> {
    const keyed = batch.flatMap((j, i) => (j.idem && outcomes[i] === 'accepted' ? [{ i, row: j.row, idem: j.idem }] : []));
    if (keyed.length === 0) return new Set();
    const windowMs = keyed[0]!.idem.windowMs;
    const kept = await conn
      .insertInto('idempotency_keys')
      .values(
        keyed.map(({ row, idem }) => ({
          api_key_id: row.api_key_id,
          idem_key: idem.key,
          request_hash: idem.hash,
          task_id: row.id,
          created_at: row.create_time,
        })),
      )
      .onConflict((oc) =>
        oc
          .columns(['api_key_id', 'idem_key'])
          .doUpdateSet((eb) => ({
            request_hash: eb.ref('excluded.request_hash'),
            task_id: eb.ref('excluded.task_id'),
            created_at: eb.ref('excluded.created_at'),
          }))
          .where('idempotency_keys.created_at', '<', (eb) => eb(eb.ref('excluded.created_at'), '-', windowMs)),
      )
      .returning('task_id')
      .execute();
    const written = new Set(kept.map((k) => k.task_id));
    return new Set(keyed.filter((k) => !written.has(k.row.id)).map((k) => k.i));
  }

  // A batch of lane-queue.ts's 256 submits at most: 36 task columns and 5 idempotency columns each
  // stay far below PostgreSQL's 65,535 parameters.
  const enqueue = laneQueue<Job>(
    LANES,
    (job) => job.row.account_id,
    // No connection to be had: each submit on its own path, which reports its own error.
    (batch) =>
      runBatch(batch).catch(() => {
        for (const job of batch) job.alone().then(job.resolve, job.reject);
      }),
  );

  return (row: TaskRow, alone: () => Promise<BatchOutcome>, extras: BatchExtras = {}) =>
    new Promise<BatchOutcome>((resolve, reject) => {
      enqueue({ row, alone, resolve, reject, ...extras });
    });
}

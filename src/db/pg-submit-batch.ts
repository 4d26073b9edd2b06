import { type Kysely, sql } from 'kysely';
import type { BudgetPeriod } from '../domain/budget.js';
import type { Db } from './connect.js';
import { laneQueue } from './lane-queue.js';
import { perDb } from './prepared-sql.js';
import type { Database } from './schema.js';
import type { TaskRow } from './tasks-repo.js';

/**
 * How a batched submit ended: its task and hold were written, the balance did not cover it, its
 * key had `maxUnfinished` unfinished tasks, its key's budget for the period would be exceeded, or
 * a current record of its Idempotency-Key exists (the caller answers as that submit did).
 */
export type BatchOutcome = 'accepted' | 'short balance' | 'limit' | 'over budget' | 'duplicate';

/** What the batch needs of one submit besides its task row. */
interface BatchExtras {
  /** The key's unfinished-task limit; 0: none. */
  maxUnfinished?: number;
  /** The Idempotency-Key, remembered with the task; a record older than `windowMs` is replaced. */
  idem?: { key: string; hash: string; windowMs: number };
  /** The key's budget and the period (budgetWindow) the submit falls in: its `key_spend` row. */
  budget?: { micros: number; period: BudgetPeriod; start: number; end: number };
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
 * PostgreSQL submits (submit-task.ts), run set-based. Group
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
 * 3. for keys with a budget, lock their period's `key_spend` rows (made where missing) and read
 *    what each has spent;
 * 4. decide every submit in order in JS: the key's limit, the hold against the locked balance,
 *    then the key's budget (exactly what countUnfinished, placeHold's conditional UPDATE and
 *    chargeKeySpend's decide one at a time);
 * 5. remember the Idempotency-Keys of the accepted ones in one upsert that replaces only expired
 *    records: a key with a current record is a duplicate, and what was decided after it with its
 *    hold counted is decided again on its own;
 * 6. one UPDATE of the balances, one of the budgets' spend, one multi-row INSERT of the tasks and one of the ledger's holds,
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
function decide(batch: Job[], available: Map<string, number>, unfinished: Map<string, number>, spent: Map<string, number>): Decided[] {
  const outcomes: Decided[] = [];
  const seen = new Set<string>();
  for (const { row, maxUnfinished = 0, idem, budget } of batch) {
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
    // chargeKeySpend, after the hold as there: the key's spend in the period plus this price
    // within its budget (a free task spends nothing).
    const spendId = budget && price > 0 ? spendKey(row.api_key_id, budget) : undefined;
    if (spendId !== undefined && (spent.get(spendId) ?? 0) + price > budget!.micros) {
      outcomes.push('over budget');
      continue;
    }
    if (spendId !== undefined) spent.set(spendId, (spent.get(spendId) ?? 0) + price);
    if (price > 0) available.set(row.account_id, left! - price);
    unfinished.set(row.api_key_id, open + 1);
    outcomes.push('accepted');
  }
  return outcomes;
}

/** A `key_spend` row's primary key as one string. */
const spendKey = (keyId: string, b: { period: BudgetPeriod; start: number }): string => `${keyId}\u0000${b.period}\u0000${b.start}`;

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
        const spent = await lockSpend(conn, batch);
        outcomes = decide(batch, available, unfinished, spent);
        const duplicates = await remember(conn, batch, outcomes);
        if (duplicates.size > 0) {
          // What came after a duplicate was decided with its hold and its place counted: those
          // refused then are decided again on their own, after the commit.
          const first = Math.min(...duplicates);
          outcomes = outcomes.map((o, i) =>
            duplicates.has(i) ? 'duplicate' : i > first && (o === 'short balance' || o === 'limit' || o === 'over budget') ? 'alone' : o,
          );
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
        await chargeSpend(conn, batch, outcomes);
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
   * The `key_spend` rows of the batch's budgeted submits, locked in key order after the balances
   * (the order a per-job submit and a release take them in: no deadlock), each period's row made
   * first where it is missing (as seedKeySpend does, with nothing spent; a concurrent first insert
   * makes this one wait for its commit and do nothing). Answers the spend of each row.
   */
  async function lockSpend(conn: Kysely<Database>, batch: Job[]): Promise<Map<string, number>> {
    const rows = new Map<string, { key_id: string; period: BudgetPeriod; period_start: number; period_end: number }>();
    for (const { row, budget } of batch) {
      if (budget && Number(row.price_micros) > 0) {
        rows.set(spendKey(row.api_key_id, budget), { key_id: row.api_key_id, period: budget.period, period_start: budget.start, period_end: budget.end });
      }
    }
    const spent = new Map<string, number>();
    if (rows.size === 0) return spent;
    // Every batch inserts the rows it makes in this one order, as every batch locks them in the
    // SELECT … FOR UPDATE's: two batches wanting the same rows wait on each other in no cycle.
    const order = (r: { key_id: string; period: string }) => `${r.key_id}\u0000${r.period}`;
    const wanted = [...rows.values()].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : a.period_start - b.period_start));
    await conn
      .insertInto('key_spend')
      .values(wanted.map((r) => ({ ...r, spent_micros: 0 })))
      .onConflict((oc) => oc.columns(['key_id', 'period', 'period_start']).doNothing())
      .execute();
    const ids = sql.join(wanted.map((r) => sql`(${r.key_id}::text, ${r.period}::text, ${r.period_start}::bigint)`));
    const locked = await sql<{ key_id: string; period: BudgetPeriod; period_start: number | string; spent_micros: number | string }>`
      select key_id, period, period_start, spent_micros from key_spend where (key_id, period, period_start) in (${ids})
      order by key_id, period, period_start for update`.execute(conn);
    for (const r of locked.rows) spent.set(spendKey(r.key_id, { period: r.period, start: Number(r.period_start) }), Number(r.spent_micros));
    return spent;
  }

  /** One UPDATE raising every `key_spend` row by what the batch's accepted submits of it hold. */
  async function chargeSpend(conn: Kysely<Database>, batch: Job[], outcomes: Decided[]): Promise<void> {
    const raise = new Map<string, { keyId: string; period: BudgetPeriod; start: number; micros: number }>();
    batch.forEach(({ row, budget }, i) => {
      const price = Number(row.price_micros);
      if (!budget || price === 0 || outcomes[i] !== 'accepted') return;
      const id = spendKey(row.api_key_id, budget);
      const r = raise.get(id) ?? { keyId: row.api_key_id, period: budget.period, start: budget.start, micros: 0 };
      r.micros += price;
      raise.set(id, r);
    });
    if (raise.size === 0) return;
    const values = sql.join([...raise.values()].map((r) => sql`(${r.keyId}::text, ${r.period}::text, ${r.start}::bigint, ${r.micros}::bigint)`));
    await sql`update key_spend as s set spent_micros = s.spent_micros + v.micros from (values ${values}) as v(key_id, period, period_start, micros)
      where s.key_id = v.key_id and s.period = v.period and s.period_start = v.period_start`.execute(conn);
  }

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

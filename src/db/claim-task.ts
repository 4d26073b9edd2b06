import { type Kysely, sql } from 'kysely';
import type { Db } from './connect.js';
import { quietRowWrite } from './pg-channels.js';
import { perDb, prepareSql } from './prepared-sql.js';
import type { Database } from './schema.js';
import type { TaskRow } from './tasks-repo.js';

/**
 * A claim on PostgreSQL starts its queue scan after the last task this process claimed at most
 * this long after its last scan from the head of the queue (ms). The bound on how long a task
 * that became due behind that point waits (a lease that expired, a submit whose commit came later
 * than a newer one's): docs/performance.md, "the settle's lookup and the claim's scan".
 */
export const CLAIM_HEAD_SCAN_MS = 250;

/** Where this process's last claim ended on one database, and when it last scanned from the head. */
interface Floor {
  runAfter: number;
  id: string;
  headScanAt: number;
}

const floors = perDb((): { at: Floor | null } => ({ at: null }));

/** Below every task's key: a scan after it starts at the head of the queue. */
const HEAD = { runAfter: Number.MIN_SAFE_INTEGER, id: '' };

/**
 * Claims the oldest due pending task with a fresh lease. The UPDATE re-checks `state = 'pending'`,
 * so two claimers can never both win a row; on PostgreSQL the inner SELECT skips rows another
 * transaction is claiming instead of waiting on them.
 *
 * PostgreSQL keeps every claimed task's old entry in the queue index until vacuum (autovacuum
 * looks at a table once a minute at most, and only after a fifth of it changed), and a scan from
 * the head reads them all: 131 index pages per claim after 12,000 claims in the queue bench,
 * against 4 from the last claim. So a claim scans from the last task this process claimed
 * (`(run_after, id) >` it), and from the head when that finds nothing or the last head scan is
 * {@link CLAIM_HEAD_SCAN_MS} old: a task due behind that point is claimed within that bound.
 * SQLite removes index entries with their row and always scans from the head.
 */
export async function claimNextTask(db: Db, now: number, leaseMs: number, leaseToken: string, quiet = false): Promise<TaskRow | undefined> {
  if (db.dialect !== 'postgres') return claimQuery(db.kysely, 'sqlite', false, HEAD, leaseToken, now + leaseMs, now, now).executeTakeFirst();
  // PostgreSQL: a named statement, planned once per connection. Planning this UPDATE (the tasks
  // table has a dozen indexes) cost PostgreSQL more CPU than running it (docs/performance.md,
  // claims and settles on PostgreSQL).
  const claim = (quiet ? claimSql.quiet : claimSql.loud)(db);
  const run = (after: { runAfter: number; id: string }) =>
    db.selectOne<TaskRow>(claim.text, claim.params(leaseToken, now + leaseMs, now, now, after.runAfter, after.id));
  const floor = floors(db);
  const at = floor.at;
  if (at && now >= at.headScanAt && now - at.headScanAt < CLAIM_HEAD_SCAN_MS) {
    const row = await run(at);
    if (row) {
      floor.at = { runAfter: row.run_after, id: row.id, headScanAt: at.headScanAt };
      return row;
    }
  }
  const row = await run(HEAD);
  floor.at = row ? { runAfter: row.run_after, id: row.id, headScanAt: now } : null;
  return row;
}

function claimQuery(
  k: Kysely<Database>,
  dialect: Db['dialect'],
  quiet: boolean,
  after: { runAfter: number; id: string },
  leaseToken: string,
  leaseExpiresAt: number,
  startTime: number,
  dueBy: number,
) {
  return (
    k
      .updateTable('tasks')
      .set((eb) => ({
        state: 'processing',
        lease_token: leaseToken,
        lease_expires_at: leaseExpiresAt,
        attempts: eb('attempts', '+', 1),
        start_time: eb.fn.coalesce('start_time', eb.val(startTime)),
      }))
      .where('state', '=', 'pending')
      .where('id', '=', (eb) => {
        // A literal: the partial queue index (migration 0016) answers only a query that says it.
        let q = eb.selectFrom('tasks').select('id').where('state', '=', sql.lit('pending')).where('run_after', '<=', dueBy);
        // A row comparison on the queue index's own columns: the scan starts there.
        q = q
          .where((w) => w(w.refTuple('run_after', 'id'), '>', w.tuple(after.runAfter, after.id)))
          .orderBy('run_after')
          .orderBy('id')
          .limit(1);
        if (dialect === 'postgres') q = q.forUpdate().skipLocked();
        return q;
      })
      .$if(dialect === 'postgres', (q) => q.where(sql<boolean>`${asyncCommit} is not null`))
      // Quiet: the caller sends the claim's NOTIFY after the commit (worker/worker-pool.ts).
      .$if(quiet, (q) => q.where(quietRowWrite))
      .returningAll()
  );
}

/**
 * PostgreSQL: this statement's own transaction commits without waiting for its WAL flush. A claim
 * touches no money and acknowledges nothing to a client, and losing one in a PostgreSQL crash
 * only puts the task back to pending, where another claim takes it; the first worker's settle
 * then fails its lease check and writes nothing, as after any lost lease. A claim that notifies
 * from the row trigger (migration 0012; not a quiet one) holds PostgreSQL's database-wide notify
 * lock from its pre-commit to its end, flush included: not waiting for the flush shortens that
 * window for every other writer (docs/performance.md, claims and settles). `set_config(…, true)`
 * lasts to the end of this statement's implicit transaction.
 */
const asyncCommit = sql`set_config('synchronous_commit', 'off', true)`;

/** The claim compiled once per database, loud and quiet; it scans after the task it is given ({@link HEAD}: from the head). */
const claimSqlFor = (quiet: boolean) =>
  perDb((db) =>
    prepareSql(
      (token: string, expires: number, start: number, due: number, runAfter: number, id: string) =>
        claimQuery(db.kysely, db.dialect, quiet, { runAfter, id }, token, expires, start, due),
      '\u0000token',
      -1.5,
      -2.5,
      -3.5,
      -4.5,
      '\u0000after',
    ),
  );
const claimSql = { loud: claimSqlFor(false), quiet: claimSqlFor(true) };

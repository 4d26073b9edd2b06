import type { Selectable } from 'kysely';
import type { Db } from './connect.js';
import type { EngineHealthTable } from './schema.js';

export type EngineHealthRow = Selectable<EngineHealthTable>;

/** Writes an engine's latest standing (the last writer wins: it is a picture, not a lock). */
export async function saveEngineHealth(db: Db, row: EngineHealthRow): Promise<void> {
  const { engine, ...rest } = row;
  await db.writeTx((trx) =>
    trx
      .insertInto('engine_health')
      .values(row)
      .onConflict((oc) => oc.column('engine').doUpdateSet(rest))
      .execute(),
  );
}

export async function listEngineHealth(db: Db): Promise<EngineHealthRow[]> {
  const rows = await db.kysely.selectFrom('engine_health').selectAll().orderBy('engine').execute();
  return rows.map((r) => ({
    ...r,
    available: Number(r.available),
    consecutive_failures: Number(r.consecutive_failures),
    open_until: r.open_until === null ? null : Number(r.open_until),
    last_error_at: r.last_error_at === null ? null : Number(r.last_error_at),
    checked_at: r.checked_at === null ? null : Number(r.checked_at),
    updated_at: Number(r.updated_at),
  }));
}

/** One engine attempt of a task: `success`, or its fail code. */
export async function recordEngineRun(
  db: Db,
  run: { engine: string; taskId: string; outcome: string; latencyMs: number; finishedAt: number; model?: string; mode?: string },
): Promise<void> {
  await db.writeTx((trx) =>
    trx
      .insertInto('engine_runs')
      .values({
        engine: run.engine,
        task_id: run.taskId,
        outcome: run.outcome,
        latency_ms: Math.max(0, Math.round(run.latencyMs)),
        finished_at: run.finishedAt,
        model: run.model ?? null,
        mode: run.mode ?? null,
      })
      .execute(),
  );
}

export interface EngineRunStats {
  engine: string;
  runs: number;
  successes: number;
  /** Median latency of the successful runs, ms; null without any. */
  p50LatencyMs: number | null;
}

/** Success rate and median latency per engine over the runs that finished since `since`. */
export async function engineRunStats(db: Db, since: number): Promise<EngineRunStats[]> {
  const rows = await db.kysely.selectFrom('engine_runs').select(['engine', 'outcome', 'latency_ms']).where('finished_at', '>=', since).execute();
  const by = new Map<string, { runs: number; ok: number[] }>();
  for (const r of rows) {
    const s = by.get(r.engine) ?? { runs: 0, ok: [] };
    s.runs++;
    if (r.outcome === 'success') s.ok.push(Number(r.latency_ms));
    by.set(r.engine, s);
  }
  return [...by.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([engine, s]) => {
      const sorted = s.ok.sort((a, b) => a - b);
      return { engine, runs: s.runs, successes: sorted.length, p50LatencyMs: sorted.length ? sorted[Math.ceil(sorted.length / 2) - 1]! : null };
    });
}

/** A successful run's engine, model, mode and latency (the history behind progress estimates). */
export interface RecentRun {
  engine: string;
  model: string;
  mode: string;
  latencyMs: number;
}

/** The newest successful runs that name their model and mode, finished since `since`, newest first. */
export async function recentSuccessfulRuns(db: Db, since: number, limit: number): Promise<RecentRun[]> {
  const rows = await db.kysely
    .selectFrom('engine_runs')
    .select(['engine', 'model', 'mode', 'latency_ms'])
    .where('finished_at', '>=', since)
    .where('outcome', '=', 'success')
    .where('model', 'is not', null)
    .orderBy('finished_at', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ engine: r.engine, model: r.model ?? '', mode: r.mode ?? '', latencyMs: Number(r.latency_ms) }));
}

/** Forgets runs older than `before` (the maintenance sweep). */
export async function deleteOldEngineRuns(db: Db, before: number): Promise<void> {
  await db.writeTx((trx) => trx.deleteFrom('engine_runs').where('finished_at', '<', before).execute());
}

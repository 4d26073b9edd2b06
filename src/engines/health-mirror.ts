import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Db } from '../db/connect.js';
import { type EngineHealthRow, listEngineHealth, saveEngineHealth } from '../db/engine-health-repo.js';
import type { EngineStanding } from './health.js';

/** Writes each change of an engine's standing to `engine_health`, for `longshot engines` and other processes. */
export function persistStanding(db: Db, log: Logger, now: () => number): (s: EngineStanding) => void {
  const by = `${hostname()}:${process.pid}`;
  return (s) => {
    saveEngineHealth(db, toRow(s, now(), by)).catch((err: unknown) => log.error({ err, engine: s.engine }, 'saving engine health failed'));
  };
}

function toRow(s: EngineStanding, now: number, by: string): EngineHealthRow {
  return {
    engine: s.engine,
    available: s.available ? 1 : 0,
    reason: s.reason,
    fix: s.fix,
    consecutive_failures: s.consecutiveFailures,
    open_until: s.openUntil,
    last_error: s.lastError,
    last_error_at: s.lastErrorAt,
    checked_at: s.checkedAt,
    updated_at: now,
    updated_by: by,
  };
}

export function fromRow(r: EngineHealthRow): EngineStanding & { updatedAt: number; updatedBy: string } {
  return {
    engine: r.engine,
    available: r.available === 1,
    reason: r.reason,
    fix: r.fix,
    summary: r.available === 1 ? null : 'see the operator',
    consecutiveFailures: r.consecutive_failures,
    openUntil: r.open_until,
    lastError: r.last_error,
    lastErrorAt: r.last_error_at,
    checkedAt: r.checked_at,
    updatedAt: r.updated_at,
    updatedBy: r.updated_by,
  };
}

/**
 * The standings as the worker processes last wrote them, re-read at most every `ttlMs`: what an
 * API-only process (which runs no engine) reports in /healthz. Reads never wait on the database.
 */
export function createStandingReader(db: Db, names: readonly string[], log: Logger, ttlMs = 5000): () => EngineStanding[] {
  let cached: EngineStanding[] = [];
  let readAt = 0;
  let reading = false;
  return () => {
    const now = Date.now();
    if (!reading && now - readAt >= ttlMs) {
      reading = true;
      readAt = now;
      listEngineHealth(db)
        .then((rows) => {
          cached = rows.filter((r) => names.includes(r.engine)).map(fromRow);
        })
        .catch((err: unknown) => log.warn({ err }, 'reading engine health failed'))
        .finally(() => {
          reading = false;
        });
    }
    return cached;
  };
}

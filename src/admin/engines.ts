import type { Config } from '../config.js';
import type { Db } from '../db/connect.js';
import { engineRunStats, listEngineHealth } from '../db/engine-health-repo.js';
import type { ModelCheck } from '../engines/engine.js';
import type { EngineSpec } from '../engines/engine-specs.js';
import { fromRow } from '../engines/health-mirror.js';

/**
 * The engine health table behind `longshot engines` and `GET /admin/v1/engines`: every configured
 * instance with its type, models and routes, and its standing as the worker processes last stored
 * it (docs/operations.md, engine health), with the last hour's runs.
 */

const HOUR_MS = 3_600_000;
const time = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function models(spec: EngineSpec): string | null {
  switch (spec.type) {
    case 'local':
      return null;
    case 'apixo':
      return `veo-3-1, veo-3-1-extend at ${spec.baseUrl}`;
    case 'fal':
      return `${spec.endpoints['fast/text']} (fast), ${spec.endpoints['quality/text']} (quality), …`;
    case 'comfyui':
      return `veo-3-1 (text, one start image), veo-3-1-extend (from the last frame) on the workflows of ComfyUI at ${spec.baseUrl}`;
    case 'gemini':
    case 'vertex':
      return `${spec.modelFast} (fast), ${spec.modelQuality} (quality)`;
  }
}

/** `checks`: model checks just run by the caller (`longshot engines --check`), shown beside the stored standing. */
export async function engineTable(db: Db, config: Config, now: number, checks: Map<string, ModelCheck> = new Map()) {
  const stored = new Map((await listEngineHealth(db)).map((r) => [r.engine, fromRow(r)]));
  const stats = new Map((await engineRunStats(db, now - HOUR_MS)).map((s) => [s.engine, s]));
  return config.engineSpecs.map((spec) => {
    const h = stored.get(spec.name);
    const s = stats.get(spec.name);
    const check = checks.get(spec.name);
    return {
      engine: spec.name,
      type: spec.type,
      models: models(spec),
      routes: Object.entries(config.routes)
        .filter(([, list]) => list.includes(spec.name))
        .map(([strategy]) => strategy),
      available: h ? h.available : true,
      reason: h?.reason ?? null,
      fix: h?.fix ?? null,
      consecutiveFailures: h?.consecutiveFailures ?? 0,
      breakerOpenUntil: h?.openUntil && h.openUntil > now ? time(h.openUntil) : null,
      lastError: h?.lastError ?? null,
      lastErrorAt: time(h?.lastErrorAt ?? null),
      checkedAt: time(h?.checkedAt ?? null),
      lastHour: { runs: s?.runs ?? 0, successRate: s && s.runs > 0 ? s.successes / s.runs : null, p50LatencyMs: s?.p50LatencyMs ?? null },
      reportedBy: h?.updatedBy ?? null,
      ...(check ? { checkNow: check } : {}),
    };
  });
}

import { parseArgs } from 'node:util';
import { type Config, loadConfig } from '../config.js';
import { engineRunStats, listEngineHealth } from '../db/engine-health-repo.js';
import { buildEngineRegistry } from '../engines/build-registry.js';
import type { ModelCheck } from '../engines/engine.js';
import type { EngineSpec } from '../engines/engine-specs.js';
import { defaultFontPath, resolveFfmpeg } from '../engines/ffmpeg.js';
import { fromRow } from '../engines/health-mirror.js';
import { createLocalEngine } from '../engines/local/local-engine.js';
import { openMigratedDb } from '../main.js';
import type { CliIo } from './webhooks.js';

const processIo: CliIo = {
  env: process.env,
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

export const ENGINES_HELP = `Usage: longshot engines [--check] [--json]

Every configured engine instance with its type, models and routes, and its health as the
worker processes last stored it: available or not (and why, with the fix), failures in a row,
whether its circuit breaker is open, the last error, and its success rate and median latency
over the last hour (docs/operations.md, engine health).

--check   also ask each upstream now whether its models exist and its credentials work
--json    one JSON document
`;

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
    case 'gemini':
    case 'vertex':
      return `${spec.modelFast} (fast), ${spec.modelQuality} (quality)`;
  }
}

export async function runEngines(args: string[], io: CliIo = processIo): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' }, check: { type: 'boolean' } } });
  const config = loadConfig(io.env);
  const db = await openMigratedDb(config);
  try {
    const now = Date.now();
    const stored = new Map((await listEngineHealth(db)).map((r) => [r.engine, fromRow(r)]));
    const stats = new Map((await engineRunStats(db, now - HOUR_MS)).map((s) => [s.engine, s]));
    const checks = values.check ? await checkNow(config) : new Map<string, ModelCheck>();
    const view = config.engineSpecs.map((spec) => {
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
    if (values.json) {
      io.out(`${JSON.stringify(view, null, 2)}\n`);
      return 0;
    }
    for (const e of view) {
      const state = !e.available ? 'UNAVAILABLE' : e.breakerOpenUntil ? `skipped until ${e.breakerOpenUntil}` : 'available';
      io.out(`${e.engine}  (${e.type})  ${state}\n`);
      if (e.models) io.out(`  models      ${e.models}\n`);
      io.out(`  routes      ${e.routes.join(', ') || '(none)'}\n`);
      if (e.reason) io.out(`  why         ${e.reason}\n`);
      if (e.fix) io.out(`  fix         ${e.fix}\n`);
      if (e.consecutiveFailures > 0) io.out(`  failures    ${e.consecutiveFailures} in a row\n`);
      if (e.lastError) io.out(`  last error  ${e.lastErrorAt}  ${e.lastError}\n`);
      const rate = e.lastHour.successRate === null ? '-' : `${Math.round(e.lastHour.successRate * 100)} %`;
      const p50 = e.lastHour.p50LatencyMs === null ? '-' : `${(e.lastHour.p50LatencyMs / 1000).toFixed(1)} s`;
      io.out(`  last hour   ${e.lastHour.runs} runs, success ${rate}, p50 ${p50}\n`);
      if (e.checkNow) {
        const c = e.checkNow;
        io.out(
          `  check now   ${c.state === 'ok' ? 'ok' : c.state === 'unavailable' ? `UNAVAILABLE: ${c.reason} — fix: ${c.fix}` : `could not reach the upstream: ${c.reason}`}\n`,
        );
      }
    }
    return 0;
  } finally {
    await db.close();
  }
}

/** Runs every upstream engine's model check from this process (a diagnostic; servers keep their own schedule). */
async function checkNow(config: Config): Promise<Map<string, ModelCheck>> {
  const ffmpegPath = resolveFfmpeg(config.ffmpegPath ?? undefined);
  const local = createLocalEngine({ ffmpegPath, fontPath: defaultFontPath(), tmpDir: config.dataDir });
  const registry = buildEngineRegistry(config, local, { ffmpegPath, fontPath: defaultFontPath() });
  const out = new Map<string, ModelCheck>();
  await Promise.all(
    registry.all().map(async (e) => {
      if (!e.checkModels) return;
      try {
        out.set(e.name, await e.checkModels(AbortSignal.timeout(30_000)));
      } catch (err) {
        out.set(e.name, { state: 'unknown', reason: (err as Error).message });
      }
    }),
  );
  return out;
}

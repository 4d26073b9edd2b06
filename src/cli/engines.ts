import { parseArgs } from 'node:util';
import { engineTable } from '../admin/engines.js';
import { type Config, loadConfig } from '../config.js';
import { buildEngineRegistry } from '../engines/build-registry.js';
import type { ModelCheck } from '../engines/engine.js';
import { defaultFontPath, resolveFfmpeg } from '../engines/ffmpeg.js';
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

export async function runEngines(args: string[], io: CliIo = processIo): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' }, check: { type: 'boolean' } } });
  const config = loadConfig(io.env);
  const db = await openMigratedDb(config);
  try {
    const now = Date.now();
    const checks = values.check ? await checkNow(config) : new Map<string, ModelCheck>();
    const view = await engineTable(db, config, now, checks);
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

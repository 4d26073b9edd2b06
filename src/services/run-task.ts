import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { markRunningEngine } from '../db/cancel-repo.js';
import { recordEngineRun } from '../db/engine-health-repo.js';
import { getTaskById, type SuccessFields, type TaskRow } from '../db/tasks-repo.js';
import { getUpstream, saveUpstream } from '../db/upstream-repo.js';
import type { ExtendInput, GenerateInput, Model, Strategy } from '../domain/models.js';
import type { Engine, EngineFailure, EngineRunContext, LocalImage, RenderJob, RenderOutcome, SourceVideo } from '../engines/engine.js';
import { fetchImage } from '../net/fetch-image.js';
import type { Deps } from './deps.js';
import { durationHistory } from './duration-history.js';
import { chooseEngines } from './engine-choice.js';
import { upstreamVideoOf } from './extendable.js';
import { createProgressReporter, type ProgressReporter } from './progress-reporter.js';
import { sendProcessingEvent } from './running-events.js';

/** What became of one run: settled either way, or to be retried later. */
export type RunResult = { kind: 'success'; fields: ResultFields } | { kind: 'failed'; failure: EngineFailure; engine: string | null };

/** The result columns a successful run writes (see tasks-repo). */
type ResultFields = SuccessFields;

const fail = (failCode: EngineFailure['failCode'], message: string, retryable = false): EngineFailure => ({ ok: false, failCode, message, retryable });

/**
 * Renders one claimed task and stores its files. It does not touch the task's state: the caller
 * settles the result under its lease. Work files live in a per-attempt temp dir that is always
 * removed.
 */
export async function runTask(deps: Deps, task: TaskRow, signal: AbortSignal): Promise<RunResult> {
  await sendProcessingEvent(deps, task);
  const workDir = join(deps.config.dataDir, 'tmp', `${task.id}-${task.attempts}`);
  await mkdir(workDir, { recursive: true });
  const progress = createProgressReporter(deps, task);
  try {
    return await render(deps, task, workDir, signal, progress);
  } finally {
    await progress.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

async function render(deps: Deps, task: TaskRow, workDir: string, signal: AbortSignal, progress: ProgressReporter): Promise<RunResult> {
  const model = task.model as Model;
  const input = JSON.parse(task.input) as GenerateInput | ExtendInput;
  // The content policy comes first: a refused prompt costs no download and no render.
  for (const [field, text] of [
    ['prompt', input.prompt],
    ['watermark', input.watermark],
  ] as const) {
    const phrase = text ? deps.contentPolicy.violation(text) : null;
    if (phrase) {
      return { kind: 'failed', failure: fail('CONTENT_VIOLATION', `input.${field} does not meet the content policy ("${phrase}")`), engine: null };
    }
  }

  let source: SourceVideo | null = null;
  if (model === 'veo-3-1-extend') {
    const src = task.source_task_id ? await getTaskById(deps.db, task.source_task_id) : undefined;
    // The source was usable at submit; retention or deletion may have run since.
    if (src?.state !== 'success' || !src.result_key || src.deleted_at !== null) {
      return { kind: 'failed', failure: fail('TASKID_ERROR', 'the source video is no longer available'), engine: null };
    }
    const stat = await deps.blobs.stat(src.result_key);
    if (!stat) return { kind: 'failed', failure: fail('TASKID_ERROR', 'the source video is no longer available'), engine: null };
    source = {
      path: await deps.blobs.localPath(src.result_key),
      durationMs: Number(src.duration_ms),
      width: Number(src.width),
      height: Number(src.height),
      chainDepth: src.chain_depth,
      upstream: await upstreamVideoOf(deps, src),
    };
  }

  const gen = model === 'veo-3-1' ? (input as GenerateInput) : null;
  const images: LocalImage[] = [];
  for (const [i, url] of (gen?.imageUrls ?? []).entries()) {
    const got = await fetchImage(url, join(workDir, `image-${i}`), { allowPrivate: deps.config.allowPrivateImageUrls, signal });
    if (!got.ok) return { kind: 'failed', failure: fail(got.failCode, `input.image_urls[${i}]: ${got.message}`), engine: null };
    images.push(got.image);
  }

  const aspectRatio = resolveAspect(gen, images, source);
  const generationType = gen?.generationType ?? 'TEXT_2_VIDEO';
  let engines = deps.engines.routesFor(task.provider as Strategy, model, generationType, source, deps.clock.now());
  if (engines.length === 0) {
    if (source && deps.engines.routesFor(task.provider as Strategy, model, generationType).length > 0) {
      // docs/gemini.md: an upstream keeps its video handles for a while only; no engine on this route can extend it.
      return { kind: 'failed', failure: fail('TASKID_ERROR', `the source video can no longer be extended on provider ${task.provider}`), engine: null };
    }
    return { kind: 'failed', failure: fail('UPSTREAM_ERROR', `no engine is configured for provider ${task.provider}`), engine: null };
  }
  // An earlier attempt left an upstream job running: resume it on its engine and never submit
  // again to the engines before it (they already failed over to it).
  const upstream = await getUpstream(deps.db, task.id);
  const resumeAt = upstream?.ref ? engines.findIndex((e) => e.name === upstream.engine) : -1;
  if (resumeAt > 0) engines = engines.slice(resumeAt);
  // A fresh submit goes first to an engine with room (engine-choice.ts); a resumed job stays
  // on the engine that holds it.
  const choice = resumeAt < 0 ? chooseEngines(engines, task.id, deps.health, deps.clock.now()) : null;
  if (choice) engines = choice.engines;

  let last: EngineFailure | null = null;
  let lastEngine: string | null = null;
  const skipped: Array<{ why: string; summary: string }> = [];
  try {
    for (const engine of engines) {
      const resuming = upstream?.ref != null && upstream.engine === engine.name;
      // A job already running upstream is always resumed: it is paid for, whatever the breaker says.
      const admission = resuming ? { admit: true as const, probe: false } : deps.health.admit(engine.name, deps.clock.now());
      if (!admission.admit) {
        skipped.push(admission);
        continue;
      }
      const job: RenderJob = {
        taskId: task.id,
        model,
        mode: input.mode,
        prompt: input.prompt,
        aspectRatio,
        generationType,
        images,
        imageUrls: gen?.imageUrls ?? [],
        enableTranslation: gen?.enableTranslation ?? false,
        seed: input.seed,
        watermark: input.watermark,
        source,
        outVideoPath: join(workDir, 'out.mp4'),
        outPosterPath: join(workDir, 'out.jpg'),
      };
      // A cancel decides by the engine on the row (cancel-repo.ts): write it before the engine
      // starts, and start nothing once a cancel (or another worker) has taken the task.
      if (task.lease_token && !(await markRunningEngine(deps.db, task.id, task.lease_token, engine.name))) {
        return { kind: 'failed', failure: fail('CANCELLED', 'the task was cancelled or taken over before its engine started'), engine: null };
      }
      const reporting = await progress.forEngine(engine, model, input.mode);
      const ctx = runContext(deps, task, engine, resuming ? (upstream.ref ?? null) : null, reporting.report);
      const startedAt = deps.clock.now();
      let outcome: RenderOutcome;
      try {
        outcome = await engine.render(job, signal, ctx);
      } catch (err) {
        deps.health.record(engine.name, 'aborted', deps.clock.now(), admission.probe);
        throw err;
      } finally {
        reporting.end();
      }
      lastEngine = engine.name;
      await noteOutcome(deps, task.id, engine.name, outcome, startedAt, admission.probe, { model, mode: input.mode });
      if (outcome.ok && outcome.upstreamVideo !== undefined && task.lease_token) {
        await saveUpstream(deps.db, task.id, task.lease_token, engine.name, { video: outcome.upstreamVideo }, deps.clock.now());
      }
      // A job given up on (TIMEOUT) keeps its reference: the maintenance loop asks later whether it
      // finished anyway (worker/late-outcomes.ts). Any other failure ends that upstream job.
      if (!outcome.ok && outcome.failCode !== 'TIMEOUT' && (ctx.upstreamRef !== null || ctx.saved) && task.lease_token) {
        // That upstream job is over: a later attempt must not resume it.
        await saveUpstream(deps.db, task.id, task.lease_token, engine.name, { ref: null }, deps.clock.now());
      }
      if (outcome.ok) {
        const video = await deps.blobs.putFile(`results/${task.id}.mp4`, job.outVideoPath, 'video/mp4');
        const poster = `results/${task.id}.jpg`;
        await deps.blobs.putFile(poster, job.outPosterPath, 'image/jpeg');
        return {
          kind: 'success',
          fields: {
            engine: engine.name,
            result_key: `results/${task.id}.mp4`,
            poster_key: poster,
            result_size: video.size,
            result_etag: video.etag,
            duration_ms: outcome.durationMs,
            width: outcome.width,
            height: outcome.height,
            expires_at: deps.clock.now() + deps.config.retentionMs,
          },
        };
      }
      last = outcome;
      // Only an upstream fault is worth another route; a bad prompt or image fails everywhere.
      if (outcome.failCode !== 'UPSTREAM_ERROR' || signal.aborted) break;
    }
  } finally {
    // A slot reserved but never rendered in (a cancel, a refusal, a fault) goes back.
    choice?.release();
  }
  if (skipped.length > 0 && (last === null || last.failCode === 'UPSTREAM_ERROR')) {
    // Say which engines were passed over and why, so a client sees more than "failed".
    deps.log.warn({ taskId: task.id, skipped: skipped.map((s) => s.why) }, 'engines skipped for a task');
    const tried = last ? `${lastEngine}: ${last.message}; ` : '';
    last = fail('UPSTREAM_ERROR', `no healthy engine of provider ${task.provider} could take the task: ${tried}${skipped.map((s) => s.summary).join('; ')}`);
  }
  return { kind: 'failed', failure: last ?? fail('UPSTREAM_ERROR', 'no engine ran'), engine: lastEngine };
}

/** Feeds the breaker and the engine-run log (success rate and latency per engine). */
async function noteOutcome(
  deps: Deps,
  taskId: string,
  engine: string,
  outcome: RenderOutcome,
  startedAt: number,
  probe: boolean,
  kind: { model: string; mode: string },
): Promise<void> {
  const now = deps.clock.now();
  deps.health.record(engine, outcome, now, probe);
  if (!outcome.ok) deps.metrics.engineFailed(engine);
  if (!outcome.ok && outcome.engineUnavailable)
    deps.log.error({ taskId, engine, reason: outcome.engineUnavailable }, `engine ${engine} is UNAVAILABLE: ${outcome.engineUnavailable}`);
  try {
    await recordEngineRun(deps.db, {
      engine,
      taskId,
      outcome: outcome.ok ? 'success' : outcome.failCode,
      latencyMs: now - startedAt,
      finishedAt: now,
      ...kind,
    });
    // This process's estimates (progress, etaSeconds) learn from the run at once.
    if (outcome.ok) void durationHistory(deps).refresh();
  } catch (err) {
    // The run log is for the operator's picture; it must never fail a task that rendered.
    deps.log.warn({ err, taskId, engine }, 'recording the engine run failed');
  }
}

/** `auto` follows the first image's orientation, else 16:9; an extension keeps its source's shape. */
function resolveAspect(gen: GenerateInput | null, images: LocalImage[], source: SourceVideo | null): '16:9' | '9:16' {
  if (source) return source.height > source.width ? '9:16' : '16:9';
  if (!gen || gen.aspectRatio === '16:9') return '16:9';
  if (gen.aspectRatio === '9:16') return '9:16';
  const first = images[0];
  return first && first.height > first.width ? '9:16' : '16:9';
}

/** Lets an engine save its upstream job reference on the task, under this worker's lease. */
function runContext(
  deps: Deps,
  task: TaskRow,
  engine: Engine,
  upstreamRef: string | null,
  progress: (fraction: number) => void,
): EngineRunContext & { saved: boolean } {
  const ctx = {
    upstreamRef,
    saved: false,
    progress,
    async saveUpstreamRef(ref: string) {
      const token = task.lease_token;
      if (!token || !(await saveUpstream(deps.db, task.id, token, engine.name, { ref }, deps.clock.now()))) {
        throw new Error(`lost the lease of task ${task.id} while saving its upstream reference`);
      }
      ctx.saved = true;
    },
  };
  return ctx;
}

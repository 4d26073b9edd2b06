import { dirname } from 'node:path';
import { GENERATION_TYPES, MODELS } from '../../domain/models.js';
import type {
  Engine,
  EngineCapabilities,
  EngineFailure,
  EngineRunContext,
  ModelCheck,
  RenderJob,
  RenderOutcome,
  SourceVideo,
  UpstreamCheck,
} from '../engine.js';
import { apiKeyAuth, callGoogle, errorMessage, type GoogleHttp, type HttpAnswer, isTransient } from '../google-http.js';
import { type PollAnswer, pollUntilDone } from '../poll-loop.js';
import { LatencyHistories } from '../poll-schedule.js';
import { checkSavedJob, engineFailure, type SavedRef, submitOrResume, type UpstreamEngineOptions, veoFailure } from '../upstream-job.js';
import { type OperationState, operationName, parseOperation } from './operation.js';
import { buildPredictBody, inlineImages } from './request.js';
import { fetchResult } from './result.js';

export interface GeminiEngineOptions extends UpstreamEngineOptions {
  apiKey: string;
  /** e.g. https://generativelanguage.googleapis.com (no trailing slash). */
  baseUrl: string;
  modelFast: string;
  modelQuality: string;
}

/** Google keeps generated videos for 2 days; an extension must reach it well before they go. */
const UPSTREAM_RETENTION_MS = 2 * 86_400_000;
const RETENTION_MARGIN_MS = 15 * 60_000;

const CAPABILITIES: EngineCapabilities = {
  models: MODELS,
  generationTypes: GENERATION_TYPES,
  extendsForeignSources: false,
  // Google bills an operation once it started and the Gemini API cannot stop one (docs/gemini.md).
  cancelsRunningWork: false,
};

const failure = engineFailure;

/**
 * Veo 3.1 through Google's Gemini API (docs/gemini.md): `predictLongRunning`, then polls the
 * operation with backoff, downloads the video and makes the poster. The operation name is
 * saved through `ctx` before the first poll, so a restarted worker resumes it and never submits
 * twice. Failures are final for this engine (`retryable: false`); an UPSTREAM_ERROR lets the
 * route fail over to the next engine.
 */
export function createGeminiEngine(options: GeminiEngineOptions): Engine {
  const now = options.now ?? Date.now;
  const http: GoogleHttp = { baseUrl: options.baseUrl, auth: apiKeyAuth(options.apiKey), retries: options.retries, retryMs: options.retryMs };
  const histories = new LatencyHistories();

  /** A 401/403 (key refused) or 404 (model gone or retired) says the engine cannot serve anything. */
  function refusal(answer: HttpAnswer, model: string): EngineFailure | null {
    if (keyRefused(answer)) {
      return failure('UPSTREAM_ERROR', "the upstream refused this gateway's credentials", `the Gemini API refused the key: ${errorMessage(answer)}`);
    }
    if (answer.status === 404)
      return failure('UPSTREAM_ERROR', `the upstream model ${model} is not available`, `the Gemini API has no model ${model}: ${errorMessage(answer)}`);
    return null;
  }

  async function submit(job: RenderJob, signal: AbortSignal): Promise<SavedRef | EngineFailure> {
    const handle = job.source?.upstream?.engine === options.name ? job.source.upstream.handle : null;
    if (job.model === 'veo-3-1-extend' && handle === null) {
      return failure('TASKID_ERROR', 'the source video was not rendered by this engine and cannot be extended here');
    }
    const images = await inlineImages(job.images);
    const body = await buildPredictBody(job, handle, images);
    const model = job.mode === 'fast' ? options.modelFast : options.modelQuality;
    const answer = await callGoogle(http, 'POST', `/v1beta/models/${encodeURIComponent(model)}:predictLongRunning`, signal, { json: body });
    const refused = refusal(answer, model);
    if (refused) return refused;
    if (answer.status === 400) return failure('INVALID_PARAMETER', `Gemini API refused the request: ${errorMessage(answer)}`);
    if (answer.status < 200 || answer.status > 299) return failure('UPSTREAM_ERROR', `Gemini API submit failed: ${errorMessage(answer)}`);
    const operation = operationName(answer.body);
    if (operation === null) return failure('UPSTREAM_ERROR', 'Gemini API answered the submit without an operation name');
    return { operation, submittedAt: now() };
  }

  /** One look at the operation. */
  async function pollOnce(ref: SavedRef, signal: AbortSignal): Promise<PollAnswer<Exclude<OperationState, { kind: 'running' }>>> {
    const answer = await callGoogle(http, 'GET', `/v1beta/${ref.operation}`, signal);
    if (keyRefused(answer)) return { failed: refusal(answer, '')! };
    if (isTransient(answer.status)) return { unreachable: failure('UPSTREAM_ERROR', `polling the Gemini operation failed: ${errorMessage(answer)}`) };
    if (answer.status !== 200) return { failed: failure('UPSTREAM_ERROR', `the Gemini operation cannot be read: ${errorMessage(answer)}`) };
    const op = parseOperation(answer.body);
    return op.kind === 'running' ? { running: true, ...(answer.retryAfterMs ? { retryAfterMs: answer.retryAfterMs } : {}) } : { done: op };
  }

  async function waitFor(ref: SavedRef, job: RenderJob, signal: AbortSignal, pollFirst: boolean): Promise<RenderOutcome> {
    const state = await pollUntilDone<Exclude<OperationState, { kind: 'running' }>>({
      submittedAt: ref.submittedAt,
      deadlineMs: options.deadlineMs,
      ...(options.hardLimitMs !== undefined ? { hardLimitMs: options.hardLimitMs } : {}),
      policy: options.poll,
      pollFirst,
      now,
      signal,
      history: histories.for(`${job.mode}:${ref.operation.replace(/\/operations\/.*$/, '')}`),
      poll: () => pollOnce(ref, signal),
    });
    if ('ok' in state) return state;
    switch (state.kind) {
      case 'filtered':
      case 'error':
        return veoFailure(state);
      case 'video':
        return fetchResult(http, state.uri, job, { ffmpegPath: options.ffmpegPath, fontPath: options.fontPath, workDir: dirname(job.outVideoPath) }, signal);
    }
  }

  return {
    name: options.name,
    capabilities: CAPABILITIES,
    async checkModels(signal: AbortSignal): Promise<ModelCheck> {
      for (const [model, setting] of [
        [options.modelFast, 'FAST'],
        [options.modelQuality, 'QUALITY'],
      ] as const) {
        const answer = await callGoogle(http, 'GET', `/v1beta/models/${encodeURIComponent(model)}`, signal);
        if (answer.status === 200) continue;
        if (keyRefused(answer)) {
          return {
            state: 'unavailable',
            reason: `the Gemini API refused the key: ${errorMessage(answer)}`,
            fix: `check GEMINI_API_KEY (or "apiKey" of engine ${options.name})`,
            summary: "the upstream refused this gateway's credentials",
          };
        }
        if (answer.status === 404) {
          return {
            state: 'unavailable',
            reason: `the Gemini API has no model ${model}: ${errorMessage(answer)}`,
            fix: `${options.name === 'gemini' ? `set LONGSHOT_GEMINI_MODEL_${setting}` : `set "model${setting === 'FAST' ? 'Fast' : 'Quality'}" of engine ${options.name} in LONGSHOT_ENGINES`} to a current model id, or route to the vertex engine (docs/model-ids.md)`,
            summary: `the upstream model ${model} is not available`,
          };
        }
        return { state: 'unknown', reason: `checking model ${model} failed: ${errorMessage(answer)}` };
      }
      return { state: 'ok' };
    },
    checkUpstream(ref: string, _job: Pick<RenderJob, 'model' | 'mode'>, signal: AbortSignal): Promise<UpstreamCheck> {
      return checkSavedJob(
        ref,
        (r) => pollOnce(r, signal),
        (op) => op.kind === 'video',
      );
    },
    canExtend(source: SourceVideo, at: number): boolean {
      const up = source.upstream;
      return !!up && up.engine === options.name && at < up.completedAt + UPSTREAM_RETENTION_MS - RETENTION_MARGIN_MS;
    },
    async render(job: RenderJob, signal: AbortSignal, ctx?: EngineRunContext): Promise<RenderOutcome> {
      signal.throwIfAborted();
      const upstreamJob = await submitOrResume(ctx, () => submit(job, signal));
      if ('ok' in upstreamJob) return upstreamJob;
      const { ref, resumed } = upstreamJob;
      return waitFor(ref, job, signal, resumed);
    },
  };
}

/** Google answers a bad key with 400 "API key not valid" (API_KEY_INVALID), a blocked one with 401/403. */
function keyRefused(answer: HttpAnswer): boolean {
  return (
    answer.status === 401 || answer.status === 403 || (answer.status === 400 && /API key not valid|API_KEY_INVALID/i.test(JSON.stringify(answer.body ?? '')))
  );
}

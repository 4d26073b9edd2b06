import { dirname } from 'node:path';
import { GENERATION_TYPES, MODELS } from '../../domain/models.js';
import { isFailCode } from '../../domain/task-state.js';
import { guardedRequest, type LookupFn } from '../../net/guarded-http.js';
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
import { type HttpAnswer, isTransient } from '../google-http.js';
import { callJson, type JsonTarget, partnerMessage } from '../guarded-json.js';
import { type PollAnswer, pollUntilDone } from '../poll-loop.js';
import { LatencyHistories } from '../poll-schedule.js';
import { checkSavedJob, engineFailure as failure, type SavedRef, submitOrResume, type UpstreamEngineOptions } from '../upstream-job.js';
import { finishUpstreamVideo, rawDownloadPath, upstreamFailure } from '../upstream-video.js';

export interface ApixoEngineOptions extends UpstreamEngineOptions {
  /** Ends in `/api/v1` (apixoBaseUrl). */
  baseUrl: string;
  apiKey: string;
  allowPrivate: boolean;
  /** How long after a source finished the upstream still extends it by its own task id. */
  extendWindowMs: number;
  lookup?: LookupFn;
}

const CAPABILITIES: EngineCapabilities = {
  models: MODELS,
  generationTypes: GENERATION_TYPES,
  // The upstream extends its own tasks only, by their task id.
  extendsForeignSources: false,
  // APIXO's API has no cancel: a submitted task runs and is paid for (docs/partners.md).
  cancelsRunningWork: false,
};

/** A result is at most this big (a 148 s 1080p video is well under it). */
const MAX_VIDEO_BYTES = 2 * 1024 * 1024 * 1024;
const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;
/** Leave the upstream's last minutes to the upstream: an extension must get there well before. */
const WINDOW_MARGIN_MS = 15 * 60_000;

/**
 * Veo 3.1 through any APIXO-compatible API (docs/partners.md): APIXO itself, a reseller with its
 * shape, or another Longshot (a federation). The task's own input is submitted to the upstream's
 * `generateTask` with `Idempotency-Key: <our task id>`; its task id is saved before waiting;
 * `statusTask` is polled near when jobs like it finish; the result is downloaded at once through
 * the network guard (upstream URLs expire). Upstream fail codes carry over 1:1.
 */
export function createApixoEngine(options: ApixoEngineOptions): Engine {
  const now = options.now ?? Date.now;
  const target: JsonTarget = {
    baseUrl: options.baseUrl,
    authorization: `Bearer ${options.apiKey}`,
    allowPrivate: options.allowPrivate,
    retries: options.retries,
    retryMs: options.retryMs,
    ...(options.lookup ? { lookup: options.lookup } : {}),
  };
  const histories = new LatencyHistories();

  /** Refusals that say the engine cannot serve anything: the key, the balance, the route. */
  function refusal(answer: HttpAnswer): EngineFailure | null {
    const why = partnerMessage(answer);
    if (answer.status === 401 || answer.status === 403)
      return failure('UPSTREAM_ERROR', "the upstream refused this gateway's credentials", `${options.name} refused the key: ${why}`);
    if (answer.status === 402)
      return failure('UPSTREAM_ERROR', 'the upstream account cannot pay for the task', `${options.name} answered 402, its balance is too low: ${why}`);
    if (answer.status === -1)
      return failure(
        'UPSTREAM_ERROR',
        'the upstream address is refused by the network guard',
        `${options.name}: ${why} (set "allowPrivate": true for a private upstream)`,
      );
    return null;
  }

  function inputOf(job: RenderJob, sourceHandle: string | null): Record<string, unknown> {
    const common = { prompt: job.prompt, mode: job.mode, seed: job.seed, ...(job.watermark ? { watermark: job.watermark } : {}) };
    if (job.model === 'veo-3-1-extend') return { taskId: sourceHandle, ...common };
    return {
      ...common,
      generationType: job.generationType,
      aspect_ratio: job.aspectRatio,
      ...(job.imageUrls.length > 0 ? { image_urls: job.imageUrls } : {}),
      ...(job.enableTranslation ? { enableTranslation: true } : {}),
    };
  }

  async function submit(job: RenderJob, signal: AbortSignal): Promise<SavedRef | EngineFailure> {
    const handle = job.source?.upstream?.engine === options.name ? job.source.upstream.handle : null;
    if (job.model === 'veo-3-1-extend' && handle === null)
      return failure('TASKID_ERROR', 'the source video was not rendered by this engine and cannot be extended here');
    const answer = await callJson(target, 'POST', `/generateTask/${job.model}`, signal, {
      json: { request_type: 'async', input: inputOf(job, handle) },
      idempotencyKey: job.taskId,
    });
    const refused = refusal(answer);
    if (refused) return refused;
    if (answer.status === 404) {
      return failure(
        'UPSTREAM_ERROR',
        `the upstream does not serve ${job.model}`,
        `${options.name} has no ${options.baseUrl}/generateTask/${job.model}: ${partnerMessage(answer)} (check "baseUrl")`,
      );
    }
    const data = (answer.body as { data?: { taskId?: unknown; failCode?: unknown } } | null)?.data;
    if (answer.status >= 400 && answer.status < 500 && answer.status !== 429) {
      // The upstream judged the input: its fail code carries over (a source it no longer keeps is TASKID_ERROR).
      const code =
        typeof data?.failCode === 'string' && isFailCode(data.failCode) && data.failCode !== 'INSUFFICIENT_BALANCE' ? data.failCode : 'INVALID_PARAMETER';
      return failure(code, `the upstream refused the task: ${partnerMessage(answer)}`);
    }
    if (answer.status !== 200) return failure('UPSTREAM_ERROR', `the upstream submit failed: ${partnerMessage(answer)}`);
    const id = data?.taskId;
    if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(id)) return failure('UPSTREAM_ERROR', 'the upstream answered the submit without a task id');
    return { operation: id, submittedAt: now() };
  }

  /** One look at the upstream task (the status route names the model). */
  async function pollOnce(ref: SavedRef, model: RenderJob['model'], signal: AbortSignal): Promise<PollAnswer<{ task: Record<string, unknown> }>> {
    const answer = await callJson(target, 'GET', `/statusTask/${model}?taskId=${encodeURIComponent(ref.operation)}`, signal);
    const refused = answer.status === 402 ? null : refusal(answer);
    if (refused) return { failed: refused };
    if (isTransient(answer.status)) return { unreachable: failure('UPSTREAM_ERROR', `polling the upstream task failed: ${partnerMessage(answer)}`) };
    if (answer.status !== 200) return { failed: failure('UPSTREAM_ERROR', `the upstream task cannot be read: ${partnerMessage(answer)}`) };
    const d = (answer.body as { data?: Record<string, unknown> } | null)?.data ?? {};
    return d.state === 'pending' || d.state === 'processing'
      ? { running: true, ...(answer.retryAfterMs ? { retryAfterMs: answer.retryAfterMs } : {}) }
      : { done: { task: d } };
  }

  async function waitFor(ref: SavedRef, job: RenderJob, signal: AbortSignal, pollFirst: boolean): Promise<RenderOutcome> {
    const over = await pollUntilDone<{ task: Record<string, unknown> }>({
      submittedAt: ref.submittedAt,
      deadlineMs: options.deadlineMs,
      ...(options.hardLimitMs !== undefined ? { hardLimitMs: options.hardLimitMs } : {}),
      policy: options.poll,
      pollFirst,
      now,
      signal,
      history: histories.for(`${job.model}:${job.mode}`),
      poll: () => pollOnce(ref, job.model, signal),
    });
    if ('ok' in over) return over;
    const data = over.task;
    if (data.state === 'failed') {
      const code =
        typeof data.failCode === 'string' && isFailCode(data.failCode) && data.failCode !== 'INSUFFICIENT_BALANCE' ? data.failCode : 'UPSTREAM_ERROR';
      return failure(code, `the upstream task failed${typeof data.failMsg === 'string' ? `: ${data.failMsg}` : ''}`);
    }
    if (data.state !== 'success') return failure('UPSTREAM_ERROR', `the upstream task is in an unknown state ${JSON.stringify(data.state ?? null)}`);
    const url = resultUrl(data.resultJson);
    if (url === null) return failure('UPSTREAM_ERROR', 'the upstream task succeeded without a result URL');
    return download(url, ref.operation, job, signal);
  }

  async function download(url: string, upstreamId: string, job: RenderJob, signal: AbortSignal): Promise<RenderOutcome> {
    const raw = rawDownloadPath(job);
    const res = await guardedRequest(url, {
      method: 'GET',
      timeoutMs: DOWNLOAD_TIMEOUT_MS,
      maxResponseBytes: MAX_VIDEO_BYTES,
      allowPrivate: options.allowPrivate,
      requireHttps: false,
      signal,
      toFile: raw,
      ...(options.lookup ? { lookup: options.lookup } : {}),
    });
    if (!res.ok) {
      signal.throwIfAborted();
      return upstreamFailure(`downloading the upstream video failed: ${res.message}`);
    }
    if (res.status !== 200) return upstreamFailure(`downloading the upstream video failed: HTTP ${res.status}`);
    // The upstream drew the watermark (it was sent with the input): do not draw it twice.
    return finishUpstreamVideo(
      raw,
      { ...job, watermark: null },
      { ffmpegPath: options.ffmpegPath, fontPath: options.fontPath, workDir: dirname(raw) },
      signal,
      upstreamId,
    );
  }

  return {
    name: options.name,
    capabilities: CAPABILITIES,
    checkUpstream(ref: string, job: Pick<RenderJob, 'model' | 'mode'>, signal: AbortSignal): Promise<UpstreamCheck> {
      return checkSavedJob(
        ref,
        (r) => pollOnce(r, job.model, signal),
        (over) => over.task.state === 'success',
      );
    },
    canExtend(source: SourceVideo, at: number): boolean {
      const up = source.upstream;
      return !!up && up.engine === options.name && at < up.completedAt + options.extendWindowMs - WINDOW_MARGIN_MS;
    },
    /** APIXO lists no models: the balance call proves the key (and that it can still pay). */
    async checkModels(signal: AbortSignal): Promise<ModelCheck> {
      const answer = await callJson({ ...target, retries: 0 }, 'GET', '/apikeys/current-balance', signal);
      const refused = refusal(answer);
      if (refused)
        return {
          state: 'unavailable',
          reason: refused.engineUnavailable!,
          fix: `check "apiKey" and "baseUrl" of engine ${options.name} in LONGSHOT_ENGINES`,
          summary: refused.message,
        };
      if (answer.status !== 200) return { state: 'unknown', reason: `checking the key failed: ${partnerMessage(answer)}` };
      const balance = (answer.body as { data?: unknown } | null)?.data;
      if (typeof balance === 'number' && balance <= 0) {
        return {
          state: 'unavailable',
          reason: `${options.name}'s balance is ${balance}`,
          fix: `top up the account of engine ${options.name}`,
          summary: 'the upstream account cannot pay for tasks',
        };
      }
      return { state: 'ok' };
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

/** `resultJson` is a JSON string (APIXO's shape) holding `resultUrls`; the first http(s) one. */
function resultUrl(resultJson: unknown): string | null {
  let parsed: unknown = resultJson;
  if (typeof resultJson === 'string') {
    try {
      parsed = JSON.parse(resultJson);
    } catch {
      return null;
    }
  }
  const urls = (parsed as { resultUrls?: unknown } | null)?.resultUrls;
  const first = Array.isArray(urls) ? urls.find((u): u is string => typeof u === 'string' && /^https?:\/\//.test(u)) : undefined;
  return first ?? null;
}

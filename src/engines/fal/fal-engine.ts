import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { GENERATION_TYPES, MODELS } from '../../domain/models.js';
import { guardedRequest, type LookupFn } from '../../net/guarded-http.js';
import type { Engine, EngineCapabilities, EngineFailure, EngineRunContext, RenderJob, RenderOutcome, UpstreamCheck } from '../engine.js';
import { type HttpAnswer, isTransient } from '../google-http.js';
import { callJson, type JsonTarget, partnerMessage } from '../guarded-json.js';
import { type PollAnswer, pollUntilDone } from '../poll-loop.js';
import { LatencyHistories } from '../poll-schedule.js';
import { finishExtension, planExtension, type TailCut, tailBytes } from '../splice/extend-by-tail.js';
import type { SpliceTools } from '../splice/splice.js';
import { checkSavedJob, engineFailure as failure, type SavedRef, submitOrResume, type UpstreamEngineOptions } from '../upstream-job.js';
import { finishUpstreamVideo, rawDownloadPath, upstreamFailure } from '../upstream-video.js';
import { appOf, FAL_TAIL_LIMITS, type FalEndpoints, falEndpoint, falInput } from './fal-request.js';

export interface FalEngineOptions extends UpstreamEngineOptions {
  apiKey: string;
  /** The queue host, https://queue.fal.run. */
  baseUrl: string;
  endpoints: FalEndpoints;
  /** Lets the queue and its result files be on private addresses (a proxy, a test stand-in). */
  allowPrivate: boolean;
  threads: number;
  lookup?: LookupFn;
}

const CAPABILITIES: EngineCapabilities = {
  models: MODELS,
  generationTypes: GENERATION_TYPES,
  // Any finished video: its tail (up to 8 s) is sent and the answer spliced back (docs/partners.md).
  extendsForeignSources: true,
  // fal's cancel is a request (CANCELLATION_REQUESTED), honoured only while queued, with no word
  // on billing: we cannot promise the client a refund that costs us nothing (docs/partners.md).
  cancelsRunningWork: false,
};

const MAX_VIDEO_BYTES = 2 * 1024 * 1024 * 1024;
const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

/**
 * Veo 3.1 through fal.ai's queue (docs/partners.md): submit to the endpoint for the task's mode and
 * kind with `Authorization: Key …`, save the request before waiting, poll its status (202 while
 * IN_QUEUE / IN_PROGRESS, 200 when COMPLETED), read the result and download `video.url`. fal judges
 * the input when the job runs, so its 422s arrive with the result: a content-policy one is
 * CONTENT_VIOLATION, others INVALID_PARAMETER; 5xx and disconnects are UPSTREAM_ERROR (failover).
 */
export function createFalEngine(options: FalEngineOptions): Engine {
  const now = options.now ?? Date.now;
  const target: JsonTarget = {
    baseUrl: options.baseUrl,
    authorization: `Key ${options.apiKey}`,
    allowPrivate: options.allowPrivate,
    retries: options.retries,
    retryMs: options.retryMs,
    ...(options.lookup ? { lookup: options.lookup } : {}),
  };
  const histories = new LatencyHistories();

  /** fal's error answer as a fail code: refusals of the key stop the engine. */
  function judged(answer: HttpAnswer, what: string): EngineFailure {
    const why = partnerMessage(answer);
    if (answer.status === 401 || answer.status === 403)
      return failure('UPSTREAM_ERROR', "the upstream refused this gateway's credentials", `fal refused the key of engine ${options.name}: ${why}`);
    if (answer.status === -1)
      return failure(
        'UPSTREAM_ERROR',
        'the upstream address is refused by the network guard',
        `${options.name}: ${why} (set "allowPrivate": true for a private queue)`,
      );
    if (answer.status === 422) {
      const types = errorTypes(answer.body);
      return types.includes('content_policy_violation')
        ? failure('CONTENT_VIOLATION', `fal refused the content: ${why}`)
        : failure('INVALID_PARAMETER', `fal refused the input: ${why}`);
    }
    return failure('UPSTREAM_ERROR', `${what} failed: ${why}`);
  }

  async function submit(job: RenderJob, tail: Buffer | null, signal: AbortSignal): Promise<SavedRef | EngineFailure> {
    const endpoint = falEndpoint(options.endpoints, job);
    const images = await Promise.all(job.images.map(async (i) => `data:${i.mime};base64,${(await readFile(i.path)).toString('base64')}`));
    const input = falInput(job, images, tail ? `data:video/mp4;base64,${tail.toString('base64')}` : null);
    const answer = await callJson(target, 'POST', `/${endpoint}`, signal, { json: input });
    if (answer.status === 404) {
      return failure(
        'UPSTREAM_ERROR',
        `the upstream does not serve ${endpoint}`,
        `fal has no endpoint ${endpoint}: ${partnerMessage(answer)} (check "models" of engine ${options.name})`,
      );
    }
    if (answer.status < 200 || answer.status > 299) return judged(answer, 'the fal submit');
    const id = (answer.body as { request_id?: unknown } | null)?.request_id;
    if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(id)) return failure('UPSTREAM_ERROR', 'fal answered the submit without a request id');
    // The status and result routes use the app id alone (the endpoint's first two segments).
    return { operation: `${appOf(endpoint)}/requests/${id}`, submittedAt: now() };
  }

  /** One look at the request's status. */
  async function pollOnce(ref: SavedRef, signal: AbortSignal): Promise<PollAnswer<{ completed: true }>> {
    const answer = await callJson(target, 'GET', `/${ref.operation}/status`, signal);
    if (answer.status === 202) return { running: true, ...(answer.retryAfterMs ? { retryAfterMs: answer.retryAfterMs } : {}) };
    if (answer.status !== 200) {
      return isTransient(answer.status)
        ? { unreachable: failure('UPSTREAM_ERROR', `polling the fal request failed: ${partnerMessage(answer)}`) }
        : { failed: judged(answer, 'reading the fal status') };
    }
    const status = (answer.body as { status?: unknown } | null)?.status;
    return status === 'COMPLETED' ? { done: { completed: true } } : { running: true };
  }

  async function waitFor(ref: SavedRef, job: RenderJob, signal: AbortSignal, pollFirst: boolean): Promise<RenderOutcome | { path: string }> {
    const over = await pollUntilDone<{ completed: true }>({
      submittedAt: ref.submittedAt,
      deadlineMs: options.deadlineMs,
      ...(options.hardLimitMs !== undefined ? { hardLimitMs: options.hardLimitMs } : {}),
      policy: options.poll,
      pollFirst,
      now,
      signal,
      history: histories.for(`${job.model}:${job.mode}:${job.generationType}`),
      poll: () => pollOnce(ref, signal),
    });
    if ('ok' in over) return over;
    // COMPLETED says nothing of success: the result read answers the app's own status and body.
    const result = await callJson(target, 'GET', `/${ref.operation}`, signal);
    if (result.status !== 200) return judged(result, 'the fal request');
    const url = (result.body as { video?: { url?: unknown } } | null)?.video?.url;
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) return upstreamFailure('fal answered without a video URL');
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
      return upstreamFailure(`downloading the fal video failed: ${res.message}`);
    }
    if (res.status !== 200) return upstreamFailure(`downloading the fal video failed: HTTP ${res.status}`);
    return { path: raw };
  }

  return {
    name: options.name,
    capabilities: CAPABILITIES,
    // COMPLETED is what fal bills, whether or not the app's answer then carries a video.
    checkUpstream(ref: string, _job: Pick<RenderJob, 'model' | 'mode'>, signal: AbortSignal): Promise<UpstreamCheck> {
      return checkSavedJob(
        ref,
        (r) => pollOnce(r, signal),
        () => true,
      );
    },
    async render(job: RenderJob, signal: AbortSignal, ctx?: EngineRunContext): Promise<RenderOutcome> {
      signal.throwIfAborted();
      const tools: SpliceTools = { ffmpegPath: options.ffmpegPath, threads: options.threads, workDir: dirname(job.outVideoPath), signal };
      let cut: TailCut | null = null;
      if (job.model === 'veo-3-1-extend') {
        const planned = await planExtension(options.ffmpegPath, job, FAL_TAIL_LIMITS, 'fal', signal);
        if ('ok' in planned) return planned;
        cut = planned;
      }
      const upstreamJob = await submitOrResume(ctx, async () => submit(job, cut ? await tailBytes(tools, job, cut) : null, signal));
      if ('ok' in upstreamJob) return upstreamJob;
      const { ref, resumed } = upstreamJob;
      const waited = await waitFor(ref, job, signal, resumed);
      if (!('path' in waited)) return waited;
      if (cut) return finishExtension(tools, options.fontPath, job, cut, waited.path);
      return finishUpstreamVideo(waited.path, job, { ffmpegPath: options.ffmpegPath, fontPath: options.fontPath, workDir: tools.workDir }, signal);
    },
  };
}

/** The `type` of every entry of a 422's `detail`. */
function errorTypes(body: unknown): string[] {
  const detail = (body as { detail?: unknown } | null)?.detail;
  return Array.isArray(detail) ? detail.map((d: { type?: unknown }) => (typeof d?.type === 'string' ? d.type : '')).filter(Boolean) : [];
}

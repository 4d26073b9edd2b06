import { writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { GENERATION_TYPES, MODELS } from '../../domain/models.js';
import type { Engine, EngineCapabilities, EngineFailure, EngineRunContext, ModelCheck, RenderJob, RenderOutcome, UpstreamCheck } from '../engine.js';
import { inlineImages } from '../gemini/request.js';
import { callGoogle, errorMessage, type GoogleHttp, type HttpAnswer, isTransient } from '../google-http.js';
import { type PollAnswer, pollUntilDone } from '../poll-loop.js';
import { LatencyHistories } from '../poll-schedule.js';
import { finishExtension, planExtension, tailBytes } from '../splice/extend-by-tail.js';
import type { SpliceTools } from '../splice/splice.js';
import { VERTEX_TAIL_LIMITS } from '../splice/tail-plan.js';
import { checkSavedJob, engineFailure, type SavedRef, submitOrResume, type UpstreamEngineOptions, veoFailure } from '../upstream-job.js';
import { downloadTo, finishUpstreamVideo, rawDownloadPath, upstreamFailure } from '../upstream-video.js';
import { gcsMediaPath, parseVertexOperation, type VertexOperationState, vertexOperationName } from './operation.js';
import { buildVertexBody, type InlineVideo } from './request.js';
import { createTokenSource, type ServiceAccount } from './service-account.js';

export interface VertexEngineOptions extends UpstreamEngineOptions {
  project: string;
  location: string;
  serviceAccount: ServiceAccount;
  /** e.g. https://us-central1-aiplatform.googleapis.com (no trailing slash). */
  baseUrl: string;
  /** Cloud Storage JSON API, for results written to `storageUri`. */
  storageBaseUrl: string;
  /** `gs://bucket/prefix` for results; null = inline in the operation. */
  storageUri: string | null;
  modelFast: string;
  modelQuality: string;
  /** x264 threads of the local engine, so spliced parts share its stream headers. */
  threads: number;
}

const CAPABILITIES: EngineCapabilities = {
  models: MODELS,
  generationTypes: GENERATION_TYPES,
  // Any finished video: only its tail is sent (docs/vertex.md, extension of any source).
  extendsForeignSources: true,
  // Vertex AI bills an operation once it started; there is no cancel for Veo (docs/vertex.md).
  cancelsRunningWork: false,
};

const failure = engineFailure;

/**
 * Veo 3.1 on Vertex AI (docs/vertex.md): service-account tokens, `predictLongRunning`, then
 * `fetchPredictOperation` polled near when jobs like it finish, results inline or from Cloud
 * Storage. The operation name is saved through `ctx` before the first wait, so a restarted
 * worker resumes it and never submits twice. Extensions send only the source's tail and splice
 * the answer behind the untouched head, so any video can be extended.
 */
export function createVertexEngine(options: VertexEngineOptions): Engine {
  const now = options.now ?? Date.now;
  const auth = createTokenSource(options.serviceAccount, { now });
  const api: GoogleHttp = { baseUrl: options.baseUrl, auth, retries: options.retries, retryMs: options.retryMs };
  const storage: GoogleHttp = { ...api, baseUrl: options.storageBaseUrl };
  const histories = new LatencyHistories();
  const modelPath = (model: string): string =>
    `/v1/projects/${encodeURIComponent(options.project)}/locations/${encodeURIComponent(options.location)}/publishers/google/models/${encodeURIComponent(model)}`;

  async function submit(job: RenderJob, tail: InlineVideo | null, signal: AbortSignal): Promise<SavedRef | EngineFailure> {
    const images = await inlineImages(job.images);
    const body = buildVertexBody(job, images, tail, options.storageUri);
    const model = job.mode === 'fast' ? options.modelFast : options.modelQuality;
    const answer = await callGoogle(api, 'POST', `${modelPath(model)}:predictLongRunning`, signal, { json: body });
    if (answer.status === 400) return failure('INVALID_PARAMETER', `Vertex AI refused the request: ${errorMessage(answer)}`);
    const refused = refusal(answer, model);
    if (refused) return refused;
    if (answer.status < 200 || answer.status > 299) return failure('UPSTREAM_ERROR', `Vertex AI submit failed: ${errorMessage(answer)}`);
    const operation = vertexOperationName(answer.body);
    if (operation === null) return failure('UPSTREAM_ERROR', 'Vertex AI answered the submit without an operation name');
    return { operation, submittedAt: now() };
  }

  /** A 401/403/404 says the engine cannot serve anything: the credentials or the model are the problem. */
  function refusal(answer: HttpAnswer, model: string): EngineFailure | null {
    if (answer.status === 401 || answer.status === 403) {
      const why = `Vertex AI refused the service account ${options.serviceAccount.clientEmail}: ${errorMessage(answer)}`;
      return failure('UPSTREAM_ERROR', "the upstream refused this gateway's credentials", why);
    }
    if (answer.status === 404) {
      const why = `Vertex AI has no model ${model} for project ${options.project} in ${options.location}: ${errorMessage(answer)}`;
      return failure('UPSTREAM_ERROR', `the upstream model ${model} is not available`, why);
    }
    return null;
  }

  /** One look at the operation (`model` is its `projects/…/models/…` prefix). */
  async function pollOnce(ref: SavedRef, model: string, signal: AbortSignal): Promise<PollAnswer<Exclude<VertexOperationState, { kind: 'running' }>>> {
    const answer = await callGoogle(api, 'POST', `/v1/${model}:fetchPredictOperation`, signal, { json: { operationName: ref.operation } });
    if (isTransient(answer.status)) return { unreachable: failure('UPSTREAM_ERROR', `polling the Vertex AI operation failed: ${errorMessage(answer)}`) };
    // A refused credential stops the engine; a 404 here is this operation's, not the model's.
    const refused = answer.status === 404 ? null : refusal(answer, model.split('/').pop() ?? model);
    if (refused) return { failed: refused };
    if (answer.status !== 200) return { failed: failure('UPSTREAM_ERROR', `the Vertex AI operation cannot be read: ${errorMessage(answer)}`) };
    const op = parseVertexOperation(answer.body);
    return op.kind === 'running' ? { running: true, ...(answer.retryAfterMs ? { retryAfterMs: answer.retryAfterMs } : {}) } : { done: op };
  }

  async function waitFor(ref: SavedRef, job: RenderJob, signal: AbortSignal, pollFirst: boolean): Promise<RenderOutcome | { inlinePath: string }> {
    const model = modelOf(ref);
    const state = await pollUntilDone<Exclude<VertexOperationState, { kind: 'running' }>>({
      submittedAt: ref.submittedAt,
      deadlineMs: options.deadlineMs,
      ...(options.hardLimitMs !== undefined ? { hardLimitMs: options.hardLimitMs } : {}),
      policy: options.poll,
      pollFirst,
      now,
      signal,
      history: histories.for(`${job.mode}:${model}`),
      poll: () => pollOnce(ref, model, signal),
    });
    if ('ok' in state) return state;
    switch (state.kind) {
      case 'filtered':
      case 'error':
        return veoFailure(state);
      case 'inline': {
        const raw = rawDownloadPath(job);
        await writeFile(raw, Buffer.from(state.base64, 'base64'));
        return { inlinePath: raw };
      }
      case 'gcs': {
        const path = gcsMediaPath(state.uri);
        if (path === null) return upstreamFailure(`the operation returned an unusable Cloud Storage URI: ${state.uri.slice(0, 200)}`);
        const raw = rawDownloadPath(job);
        const failed = await downloadTo(storage, path, raw, signal);
        return failed ?? { inlinePath: raw };
      }
    }
  }

  return {
    name: options.name,
    capabilities: CAPABILITIES,
    checkUpstream(ref: string, _job: Pick<RenderJob, 'model' | 'mode'>, signal: AbortSignal): Promise<UpstreamCheck> {
      return checkSavedJob(
        ref,
        (r) => pollOnce(r, modelOf(r), signal),
        (op) => op.kind === 'inline' || op.kind === 'gcs',
      );
    },
    async checkModels(signal: AbortSignal): Promise<ModelCheck> {
      for (const [model, setting] of [
        [options.modelFast, 'modelFast'],
        [options.modelQuality, 'modelQuality'],
      ] as const) {
        const answer = await callGoogle(api, 'GET', `/v1/publishers/google/models/${encodeURIComponent(model)}`, signal);
        if (answer.status === 200) continue;
        if (answer.status === 401 || answer.status === 403) {
          return {
            state: 'unavailable',
            reason: `Vertex AI refused the service account ${options.serviceAccount.clientEmail}: ${errorMessage(answer)}`,
            fix: `check the key file ${options.serviceAccount.file} and that the account has the Vertex AI User role on project ${options.project}`,
            summary: "the upstream refused this gateway's credentials",
          };
        }
        if (answer.status === 404) {
          return {
            state: 'unavailable',
            reason: `Vertex AI has no model ${model}: ${errorMessage(answer)}`,
            fix: `set ${options.name === 'vertex' ? `LONGSHOT_VERTEX_MODEL_${setting === 'modelFast' ? 'FAST' : 'QUALITY'}` : `"${setting}" of engine ${options.name} in LONGSHOT_ENGINES`} to a current model id (docs/vertex.md)`,
            summary: `the upstream model ${model} is not available`,
          };
        }
        return { state: 'unknown', reason: `checking model ${model} failed: ${errorMessage(answer)}` };
      }
      return { state: 'ok' };
    },
    async render(job: RenderJob, signal: AbortSignal, ctx?: EngineRunContext): Promise<RenderOutcome> {
      signal.throwIfAborted();
      const tools: SpliceTools = { ffmpegPath: options.ffmpegPath, threads: options.threads, workDir: dirname(job.outVideoPath), signal };
      const extend = job.model === 'veo-3-1-extend' ? await planExtension(options.ffmpegPath, job, VERTEX_TAIL_LIMITS, 'Vertex AI', signal) : null;
      if (extend && 'ok' in extend) return extend;
      const upstreamJob = await submitOrResume(ctx, async () => {
        const tail: InlineVideo | null = extend
          ? { bytesBase64Encoded: (await tailBytes(tools, job, extend)).toString('base64'), mimeType: 'video/mp4' }
          : null;
        return submit(job, tail, signal);
      });
      if ('ok' in upstreamJob) return upstreamJob;
      const { ref, resumed } = upstreamJob;
      const waited = await waitFor(ref, job, signal, resumed);
      if (!('inlinePath' in waited)) return waited;
      if (!extend)
        return finishUpstreamVideo(waited.inlinePath, job, { ffmpegPath: options.ffmpegPath, fontPath: options.fontPath, workDir: tools.workDir }, signal);
      return finishExtension(tools, options.fontPath, job, extend, waited.inlinePath);
    },
  };
}

/** The `projects/…/models/…` prefix of an operation name: where it is polled. */
function modelOf(ref: SavedRef): string {
  return ref.operation.replace(/\/operations\/[^/]+$/, '');
}

import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { WebSocket } from 'ws';
import { guardedRequest } from '../../net/guarded-http.js';
import type { Engine, EngineCapabilities, EngineFailure, EngineRunContext, ModelCheck, RenderJob, RenderOutcome } from '../engine.js';
import { runFfmpeg } from '../ffmpeg.js';
import { callJson, type JsonTarget, partnerMessage } from '../guarded-json.js';
import { audioOutputArgs, containerArgs, FPS, videoOutputArgs } from '../local/encode.js';
import { inspectMedia } from '../local/media-info.js';
import { pollUntilDone } from '../poll-loop.js';
import { LatencyHistories } from '../poll-schedule.js';
import { finishExtension, type TailCut } from '../splice/extend-by-tail.js';
import { CONTINUATION_SECONDS, type SpliceTools } from '../splice/splice.js';
import { engineFailure as failure, type SavedRef, submitOrResume, type UpstreamEngineOptions } from '../upstream-job.js';
import { finishUpstreamVideo, rawDownloadPath, upstreamFailure } from '../upstream-video.js';
import { dropLeadFrames, wholeSourceCut } from './continuation.js';
import { createSlots } from './slots.js';
import { createComfyStatus, type HistoryEntry } from './status.js';
import { bindWorkflow, imageCount, missingParts, type Template, takesImages } from './template.js';
import { uploadTemplateImages } from './upload.js';

export interface ComfyEngineOptions extends UpstreamEngineOptions {
  /** The operator's ComfyUI, e.g. http://gpu-box:8188: trusted, so private addresses are allowed for it. */
  baseUrl: string;
  token: string | null;
  templates: readonly Template[];
  /** Prompts of this engine queued on ComfyUI at once; further tasks wait here. */
  concurrency: number;
  threads: number;
}

const MAX_VIDEO_BYTES = 2 * 1024 * 1024 * 1024;
const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;
/** The sampler is most of the work; decoding, saving and our transcode follow it. */
const SAMPLING_SHARE = 0.9;
/** Core sampler nodes, whose `progress` messages are the steps of a pass. */
const SAMPLERS = new Set(['KSampler', 'KSamplerAdvanced', 'SamplerCustom', 'SamplerCustomAdvanced']);

interface FileRef {
  filename: string;
  subfolder: string;
  type: string;
}

/**
 * Open-weights video on the operator's own ComfyUI (docs/comfyui.md). Longshot is the job service
 * in front of it: the prompt id is our task id, saved before waiting; `GET /api/jobs/{id}` (on a
 * core with the jobs API) or `/queue` and `/history` are polled as the truth (status.ts; ComfyUI
 * keeps them in memory, so a prompt it no longer knows was lost to a restart and fails,
 * refunded); the WebSocket's `progress` messages feed the task's progress; the output
 * is fetched from `/view`, transcoded to the contract's MP4 and its history entry deleted.
 */
export function createComfyEngine(options: ComfyEngineOptions): Engine {
  const now = options.now ?? Date.now;
  const target: JsonTarget = {
    baseUrl: options.baseUrl,
    ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    allowPrivate: true,
    retries: options.retries,
    retryMs: options.retryMs,
  };
  const histories = new LatencyHistories();
  const slots = createSlots(options.concurrency);
  const status = createComfyStatus(target);
  // An extension continues from the source's last frames where a template takes them (`sourceFrames`,
  // LTX-Video's guide clip: motion carries across the seam), else from its last frame: any template
  // with one start image will do (a references template binds no start image, so it is never the continuation).
  const continuation = options.templates.find((t) => t.bind.sourceFrames !== undefined) ?? options.templates.find((t) => imageCount(t) === 1);
  /** The first template of the type that takes as many images as the task gives (a start image, a first and a last frame, or 1–3 references). */
  const template = (job: RenderJob): Template | undefined =>
    job.source ? continuation : options.templates.find((t) => t.generationTypes.includes(job.generationType) && takesImages(t, job.images.length));
  const capabilities: EngineCapabilities = {
    models: continuation ? ['veo-3-1', 'veo-3-1-extend'] : ['veo-3-1'],
    generationTypes: [...new Set(options.templates.flatMap((t) => t.generationTypes))],
    // The continuation needs only the source's frames, so any source can be extended.
    extendsForeignSources: continuation !== undefined,
    reportsProgress: true,
    // `/interrupt` stops the prompt on the operator's GPU; nothing is billed.
    cancelsRunningWork: true,
  };

  async function submit(job: RenderJob, t: Template, cut: TailCut | null, signal: AbortSignal): Promise<SavedRef | EngineFailure> {
    const images = await uploadTemplateImages(target, options.ffmpegPath, job, t, cut, dirname(job.outVideoPath), signal);
    if (!Array.isArray(images)) return images;
    const { workflow } = bindWorkflow(t, job, {
      ...(t.bind.referenceImage ? { referenceImage: images[0]! } : {}),
      ...(t.bind.sourceFrames ? { sourceFrames: images } : {}),
      ...(!t.bind.referenceImage && !t.bind.sourceFrames && images[0] !== undefined ? { startImage: images[0] } : {}),
      ...(!t.bind.sourceFrames && images[1] !== undefined ? { endImage: images[1] } : {}),
      ...(cut ? { seconds: CONTINUATION_SECONDS } : {}),
    });
    const answer = await callJson(target, 'POST', '/prompt', signal, { json: { prompt: workflow, prompt_id: job.taskId, client_id: job.taskId } });
    const body = answer.body as { prompt_id?: unknown; node_errors?: Record<string, unknown>; error?: { message?: unknown } } | null;
    const nodeErrors = nodeErrorText(body?.node_errors);
    if (answer.status === 400 || (answer.status === 200 && nodeErrors)) {
      const why = nodeErrors || (typeof body?.error?.message === 'string' ? body.error.message : partnerMessage(answer));
      return failure('INVALID_PARAMETER', `ComfyUI refused the workflow ${t.name}: ${why}`);
    }
    if (answer.status === 401 || answer.status === 403)
      return failure(
        'UPSTREAM_ERROR',
        "the upstream refused this gateway's credentials",
        `ComfyUI refused the token of engine ${options.name}: ${partnerMessage(answer)}`,
      );
    if (answer.status !== 200) return failure('UPSTREAM_ERROR', `the ComfyUI submit failed: ${partnerMessage(answer)}`);
    return { operation: job.taskId, submittedAt: now() };
  }

  /**
   * Feeds the samplers' steps of our prompt into the task's progress; best effort (polling is the
   * truth). A workflow with several sampler passes (Wan 14B's high- and low-noise experts) counts
   * each pass as its share, since every pass reports its own `value/max` from 1.
   */
  function watchProgress(id: string, t: Template, ctx: EngineRunContext | undefined): () => void {
    if (!ctx?.progress) return () => undefined;
    const url = `${options.baseUrl.replace(/^http/, 'ws')}/ws?clientId=${encodeURIComponent(id)}`;
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, options.token ? { headers: { authorization: `Bearer ${options.token}` } } : {});
    } catch {
      return () => undefined;
    }
    const samplers = Object.entries(t.workflow)
      .filter(([, n]) => SAMPLERS.has(n.class_type))
      .map(([nodeId]) => nodeId);
    const done = new Map<string, number>();
    ws.on('error', () => undefined);
    ws.on('message', (raw, isBinary) => {
      if (isBinary) return; // preview images
      let msg: { type?: string; data?: { value?: unknown; max?: unknown; prompt_id?: unknown; node?: unknown } };
      try {
        msg = JSON.parse(raw.toString());
      } catch {
        return;
      }
      const d = msg.data;
      if (msg.type !== 'progress' || d?.prompt_id !== id || typeof d.value !== 'number' || typeof d.max !== 'number' || d.max <= 0) return;
      const fraction = Math.min(1, d.value / d.max);
      if (typeof d.node !== 'string' || !samplers.includes(d.node) || samplers.length < 2) {
        ctx.progress?.(SAMPLING_SHARE * fraction);
        return;
      }
      done.set(d.node, fraction);
      ctx.progress?.((SAMPLING_SHARE * [...done.values()].reduce((a, b) => a + b, 0)) / samplers.length);
    });
    return () => ws.terminate();
  }

  /**
   * Stops our prompt. A newer core has a jobs API (`GET /api/jobs` answers): one
   * `POST /api/jobs/{id}/cancel` stops it running or waiting. An older one, or a cancel it does
   * not take, gets `/interrupt` (stops it if it runs) and `/queue` delete (if it waits).
   */
  async function stop(id: string): Promise<void> {
    const signal = AbortSignal.timeout(10_000);
    const quick = { ...target, retries: 0 };
    if (await status.hasJobsApi(signal).catch(() => null)) {
      const cancel = await callJson(quick, 'POST', `/api/jobs/${encodeURIComponent(id)}/cancel`, signal, { json: {} }).catch(() => null);
      if (cancel && cancel.status >= 200 && cancel.status < 300) return;
    }
    await callJson(quick, 'POST', '/interrupt', signal, { json: { prompt_id: id } }).catch(() => undefined);
    await callJson(quick, 'POST', '/queue', signal, { json: { delete: [id] } }).catch(() => undefined);
  }

  async function download(file: FileRef, dest: string, signal: AbortSignal): Promise<EngineFailure | null> {
    const q = new URLSearchParams({ filename: file.filename, subfolder: file.subfolder, type: file.type });
    const res = await guardedRequest(`${options.baseUrl}/view?${q}`, {
      method: 'GET',
      headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      timeoutMs: DOWNLOAD_TIMEOUT_MS,
      maxResponseBytes: MAX_VIDEO_BYTES,
      allowPrivate: true,
      requireHttps: false,
      signal,
      toFile: dest,
    });
    if (!res.ok) {
      signal.throwIfAborted();
      return upstreamFailure(`downloading the ComfyUI output failed: ${res.message}`);
    }
    return res.status === 200 ? null : upstreamFailure(`downloading the ComfyUI output failed: HTTP ${res.status}`);
  }

  /** The contract's MP4: H.264 at 24 fps with an AAC track (silence when the model made no sound). */
  async function transcode(raw: string, out: string, signal: AbortSignal): Promise<EngineFailure | null> {
    const facts = await inspectMedia(options.ffmpegPath, raw, signal);
    if (!facts) return upstreamFailure('the ComfyUI output cannot be read as a video');
    const seconds = facts.video.durationSec.toFixed(3);
    const audio = facts.audio ? [] : ['-f', 'lavfi', '-t', seconds, '-i', 'anullsrc=r=48000:cl=stereo'];
    await runFfmpeg(
      options.ffmpegPath,
      [
        '-y',
        '-v',
        'error',
        '-i',
        raw,
        ...audio,
        '-map',
        '0:v:0',
        '-map',
        facts.audio ? '0:a:0' : '1:a:0',
        ...videoOutputArgs('fast', options.threads, FPS),
        ...audioOutputArgs(),
        '-t',
        seconds,
        ...containerArgs(),
        out,
      ],
      signal,
    );
    return null;
  }

  async function finish(id: string, entry: HistoryEntry, job: RenderJob, t: Template, cut: TailCut | null, signal: AbortSignal): Promise<RenderOutcome> {
    if (entry.status?.status_str !== 'success') {
      const error = entry.status?.messages?.find(([type]) => type === 'execution_error')?.[1];
      const why = error ? `${error.node_type ?? 'node'} ${error.node_id ?? ''}: ${error.exception_message ?? 'failed'}`.trim() : 'the prompt did not succeed';
      return failure('UPSTREAM_ERROR', `ComfyUI failed the workflow ${t.name}: ${why}`);
    }
    const file = outputFile(entry.outputs?.[t.output]);
    if (!file) return upstreamFailure(`ComfyUI finished without a video from node ${t.output}`);
    const raw = rawDownloadPath(job);
    const got = await download(file, raw, signal);
    if (got) return got;
    if (cut) {
      // The splice re-encodes the continuation to the source's size and rate and keeps the source's frames.
      const tools: SpliceTools = { ffmpegPath: options.ffmpegPath, threads: options.threads, workDir: dirname(job.outVideoPath), signal };
      // A guided continuation opens with the guide clip re-rendered: the source's own last frames,
      // which the result already has. Cut them so the seam shows no frame twice.
      const lead = t.bind.sourceFrames?.length ?? 0;
      const continued = lead > 0 ? `${raw}.cont.mp4` : raw;
      try {
        if (lead > 0) await dropLeadFrames(options.ffmpegPath, raw, continued, lead, signal);
        const done = await finishExtension(tools, options.fontPath, job, cut, continued);
        await callJson(target, 'POST', '/history', signal, { json: { delete: [id] } }).catch(() => undefined);
        return done;
      } finally {
        await rm(raw, { force: true });
        if (continued !== raw) await rm(continued, { force: true });
      }
    }
    const mp4 = `${raw}.mp4`;
    try {
      const bad = await transcode(raw, mp4, signal);
      if (bad) return bad;
    } finally {
      await rm(raw, { force: true });
    }
    const done = await finishUpstreamVideo(
      mp4,
      job,
      { ffmpegPath: options.ffmpegPath, fontPath: options.fontPath, workDir: dirname(job.outVideoPath) },
      signal,
    );
    // ComfyUI's history lives in its memory: ours is the durable copy.
    await callJson(target, 'POST', '/history', signal, { json: { delete: [id] } }).catch(() => undefined);
    return done;
  }

  return {
    name: options.name,
    capabilities,
    reserve: (taskId) => slots.reserve(taskId),
    async checkModels(signal: AbortSignal): Promise<ModelCheck> {
      // The core may have been upgraded or downgraded since: learn again whether it has the jobs API.
      status.forget();
      const info = await callJson({ ...target, retries: 0 }, 'GET', '/object_info', signal);
      if (info.status === 401 || info.status === 403)
        return {
          state: 'unavailable',
          reason: `ComfyUI refused the token: ${partnerMessage(info)}`,
          fix: `set "token" of engine ${options.name}`,
          summary: 'the engine refused our credentials',
        };
      if (info.status !== 200 || typeof info.body !== 'object' || info.body === null)
        return { state: 'unknown', reason: `GET /object_info: ${partnerMessage(info)}` };
      const folders = [...new Set(options.templates.flatMap((t) => Object.keys(t.models)))];
      const models = new Map<string, string[]>();
      for (const folder of folders) {
        const answer = await callJson({ ...target, retries: 0 }, 'GET', `/models/${folder}`, signal);
        if (answer.status === 200 && Array.isArray(answer.body))
          models.set(
            folder,
            answer.body.filter((f): f is string => typeof f === 'string'),
          );
        else if (answer.status !== 404) return { state: 'unknown', reason: `GET /models/${folder}: ${partnerMessage(answer)}` };
      }
      const missing = missingParts(options.templates, info.body as Record<string, unknown>, models);
      if (missing.length === 0) return { state: 'ok' };
      return {
        state: 'unavailable',
        reason: `ComfyUI lacks ${missing.join(', ')}`,
        fix: 'install the listed custom nodes and model files on the ComfyUI machine (docs/comfyui.md)',
        summary: 'the engine lacks nodes or models its workflows need',
      };
    },
    async render(job: RenderJob, signal: AbortSignal, ctx?: EngineRunContext): Promise<RenderOutcome> {
      signal.throwIfAborted();
      const t = template(job);
      if (!t) {
        // Name the template that came closest, so the operator sees which one to add.
        const near = options.templates.find((x) => x.generationTypes.includes(job.generationType));
        if (!job.source && near && imageCount(near) > 0)
          return failure(
            'INVALID_PARAMETER',
            imageCount(near) === 1
              ? `workflow template ${near.name} of engine ${options.name} takes one start image; ${job.images.length} image_urls given (a first and last frame needs a template with a last frame, such as wan22-14b-flf2v, in the engine's "templates")`
              : `workflow template ${near.name} of engine ${options.name} takes a first and a last frame; ${job.images.length} image_urls given`,
          );
        return failure('INVALID_PARAMETER', `engine ${options.name} has no workflow template for ${job.source ? 'extensions' : job.generationType}`);
      }
      let cut: TailCut | null = null;
      if (job.source) {
        const planned = await wholeSourceCut(options.ffmpegPath, job.source.path, signal);
        if ('ok' in planned) return planned;
        cut = planned;
      }
      const release = await slots.take(job.taskId, signal);
      const unwatch = watchProgress(job.taskId, t, ctx);
      let id: string | null = null;
      try {
        const upstreamJob = await submitOrResume(ctx, () => submit(job, t, cut, signal));
        if ('ok' in upstreamJob) return upstreamJob;
        id = upstreamJob.ref.operation;
        const submitted = id;
        const over = await pollUntilDone<HistoryEntry>({
          submittedAt: upstreamJob.ref.submittedAt,
          deadlineMs: options.deadlineMs,
          ...(options.hardLimitMs !== undefined ? { hardLimitMs: options.hardLimitMs } : {}),
          policy: options.poll,
          pollFirst: upstreamJob.resumed,
          now,
          signal,
          history: histories.for(t.name),
          poll: () => status.look(submitted, signal),
        });
        if ('ok' in over) {
          if (over.failCode === 'TIMEOUT') await stop(submitted);
          return over;
        }
        unwatch();
        return await finish(submitted, over, job, t, cut, signal);
      } catch (err) {
        // A shutting-down worker leaves the prompt running: the next worker resumes it by its id.
        // A cancel, the task timeout or a lost lease stop it.
        if (signal.aborted && signal.reason !== 'shutdown' && id !== null) await stop(id);
        throw err;
      } finally {
        unwatch();
        release();
      }
    },
  };
}

/** The first non-temporary file of an output node: SaveVideo lists it under `images`, VHS under `gifs`, some wrappers under `videos`. */
function outputFile(output: Record<string, unknown> | undefined): FileRef | null {
  for (const key of ['videos', 'gifs', 'images']) {
    const list = output?.[key];
    if (!Array.isArray(list)) continue;
    for (const f of list as Partial<FileRef>[]) {
      if (typeof f?.filename === 'string' && f.type !== 'temp')
        return { filename: f.filename, subfolder: typeof f.subfolder === 'string' ? f.subfolder : '', type: f.type ?? 'output' };
    }
  }
  return null;
}

/** ComfyUI's `node_errors` as one sentence: `Wan22ImageToVideoLatent 55: Value 7 smaller than min of 16: width`. */
function nodeErrorText(nodeErrors: Record<string, unknown> | undefined): string {
  if (!nodeErrors || typeof nodeErrors !== 'object') return '';
  return Object.entries(nodeErrors)
    .map(([id, v]) => {
      const n = v as { class_type?: unknown; errors?: { message?: unknown; details?: unknown }[] };
      const errors = (Array.isArray(n.errors) ? n.errors : [])
        .map((e) => [e.message, e.details].filter((x) => typeof x === 'string' && x).join(': '))
        .filter(Boolean)
        .join('; ');
      return `${typeof n.class_type === 'string' ? n.class_type : 'node'} ${id}: ${errors || 'invalid'}`;
    })
    .join('; ');
}

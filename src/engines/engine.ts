import type { GenerationType, Mode, Model } from '../domain/models.js';
import type { FailCode } from '../domain/task-state.js';

/**
 * A still image the engine may use: downloaded, decoded and re-encoded by sharp
 * (src/net/clean-image.ts), so always JPEG or PNG, upright, without metadata; width and height
 * are the oriented picture's.
 */
export interface LocalImage {
  path: string;
  mime: 'image/jpeg' | 'image/png';
  width: number;
  height: number;
}

/** The source of an extension: a finished video on local disk and what is known of it. */
export interface SourceVideo {
  path: string;
  durationMs: number;
  width: number;
  height: number;
  /** Number of extensions already in the source's chain (0 for a generated video). */
  chainDepth: number;
  /** The upstream's own handle of the source video, when an upstream engine rendered it. */
  upstream?: UpstreamVideo | null;
}

/** An upstream's handle of a finished video (e.g. a Gemini file URI), kept for extensions. */
export interface UpstreamVideo {
  /** Name of the engine instance that rendered the source. */
  engine: string;
  handle: string;
  /** When the source finished (Unix ms): upstream handles are retained only for a while. */
  completedAt: number;
}

/** Everything an engine needs to render one task. Paths are on local disk. */
export interface RenderJob {
  taskId: string;
  model: Model;
  mode: Mode;
  prompt: string;
  /** Resolved: `auto` has already become one of these. */
  aspectRatio: '16:9' | '9:16';
  generationType: GenerationType;
  images: LocalImage[];
  /** The client's own image URLs, in order (`images` are their downloaded, checked files). */
  imageUrls: readonly string[];
  enableTranslation: boolean;
  seed: number;
  watermark: string | null;
  /** Set for `veo-3-1-extend`. */
  source: SourceVideo | null;
  /** Where to write the MP4 and the JPEG poster. The directory exists. */
  outVideoPath: string;
  outPosterPath: string;
}

export interface RenderedVideo {
  ok: true;
  durationMs: number;
  width: number;
  height: number;
  /** The upstream's handle of the result, stored so a later extension can send it back. */
  upstreamVideo?: string;
}

/**
 * What a run knows beyond the job: the upstream reference saved by an earlier attempt of this
 * task, and a way to save one. An upstream engine saves its job id BEFORE it waits on it, so a
 * worker that restarts resumes that job instead of submitting (and paying) again.
 */
export interface EngineRunContext {
  /** The reference this engine saved in an earlier attempt of the task, or null. */
  upstreamRef: string | null;
  /** Persists `ref` on the task under the caller's lease; rejects when the lease is lost. */
  saveUpstreamRef(ref: string): Promise<void>;
  /**
   * Reports how far the render is, 0–1, as often as the engine likes (the caller keeps the
   * highest value and stores it at most about once a second). Engines with
   * `capabilities.reportsProgress` call it; for the others the caller estimates from time.
   */
  progress?(fraction: number): void;
}

/** A failure the engine understands: a fail code for the client and whether a retry may help. */
export interface EngineFailure {
  ok: false;
  failCode: FailCode;
  message: string;
  retryable: boolean;
  /**
   * Set when the failure shows that the engine itself cannot serve anything now (its model is
   * gone, its credentials are refused): the upstream's own words. Routes skip the engine until
   * its next model check passes (docs/operations.md, engine health).
   */
  engineUnavailable?: string;
}

/**
 * What an engine's check of its configured models and credentials found: usable; not usable,
 * with the upstream's words and the operator's fix; or not known (the upstream could not be
 * reached), which leaves the engine's standing as it was.
 */
export type ModelCheck =
  | { state: 'ok' }
  | { state: 'unavailable'; reason: string; fix: string /** Safe to show a client: no account detail. */; summary: string }
  | { state: 'unknown'; reason: string };

export type RenderOutcome = RenderedVideo | EngineFailure;

/** What an engine can do; the route registry uses it to pick an engine for a task. */
export interface EngineCapabilities {
  models: readonly Model[];
  generationTypes: readonly GenerationType[];
  /** Can extend videos that this engine did not render. */
  extendsForeignSources: boolean;
  /** Reports its own progress through `EngineRunContext.progress` (else it is estimated from time). */
  reportsProgress?: boolean;
  /**
   * Aborting a running render stops the work and whatever it costs: true for the local engine
   * (ffmpeg is killed). False where the upstream bills a job once submitted (Veo) or cannot be
   * told to stop it; cancelling such a task while it runs answers 409 (docs/api.md, cancel).
   */
  cancelsRunningWork: boolean;
}

/** What an upstream says now of a job we stopped waiting for: still running, over with or without a video, or no answer. */
export type UpstreamCheck = 'running' | 'completed' | 'failed' | 'unknown';

/**
 * A renderer of tasks. `render` must honour `signal` (stop work and reject or return promptly)
 * and must be deterministic for the same job when the engine claims so.
 */
export interface Engine {
  readonly name: string;
  readonly capabilities: EngineCapabilities;
  render(job: RenderJob, signal: AbortSignal, ctx?: EngineRunContext): Promise<RenderOutcome>;
  /**
   * For an engine with `extendsForeignSources: false`: whether it can still extend this source
   * at `now` (its own video, whose upstream handle is still retained).
   */
  canExtend?(source: SourceVideo, now: number): boolean;
  /** Upstream engines: asks the upstream whether the configured models exist and the credentials work. */
  checkModels?(signal: AbortSignal): Promise<ModelCheck>;
  /**
   * Upstream engines: asks once about the job `ref` (as saved through `saveUpstreamRef`) of a task
   * of this model and mode. Used after a TIMEOUT to learn whether the job finished anyway.
   */
  checkUpstream?(ref: string, job: Pick<RenderJob, 'model' | 'mode'>, signal: AbortSignal): Promise<UpstreamCheck>;
  /**
   * Engines that run a bounded number of jobs at once in this process (`comfyui`'s
   * `concurrency`): takes a free slot now for this task's next `render`, which then starts in it
   * instead of waiting for one. Answers a function that gives the slot back (a no-op once
   * `render` has claimed it; call it either way when the attempt is over), or null when every
   * slot is taken. A route prefers the first engine with room (services/engine-choice.ts); an
   * engine without `reserve` is treated as always having room.
   */
  reserve?(taskId: string): (() => void) | null;
}

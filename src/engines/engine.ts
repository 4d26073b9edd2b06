import type { FailCode } from '../domain/task-state.js';
import type { GenerationType, Mode, Model } from '../domain/models.js';

/** A still image the engine may use, already downloaded and checked by content type. */
export interface LocalImage {
  path: string;
  mime: 'image/jpeg' | 'image/png' | 'image/webp';
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
}

/** A failure the engine understands: a fail code for the client and whether a retry may help. */
export interface EngineFailure {
  ok: false;
  failCode: FailCode;
  message: string;
  retryable: boolean;
}

export type RenderOutcome = RenderedVideo | EngineFailure;

/** What an engine can do; the route registry uses it to pick an engine for a task. */
export interface EngineCapabilities {
  models: readonly Model[];
  generationTypes: readonly GenerationType[];
  /** Can extend videos that this engine did not render. */
  extendsForeignSources: boolean;
}

/**
 * A renderer of tasks. `render` must honour `signal` (stop work and reject or return promptly)
 * and must be deterministic for the same job when the engine claims so.
 */
export interface Engine {
  readonly name: string;
  readonly capabilities: EngineCapabilities;
  render(job: RenderJob, signal: AbortSignal): Promise<RenderOutcome>;
}

/** What every render step needs besides the job: the tools, a private temp dir, the signal. */
export interface RenderContext {
  ffmpegPath: string;
  fontPath: string;
  /** x264 threads; fixed so the bitstream is the same on every machine. */
  threads: number;
  /** A directory of this render's own; removed when the render ends. */
  workDir: string;
  signal: AbortSignal;
  /** The run's progress callback (EngineRunContext.progress), fed by the steps (step-progress.ts). */
  progress?: (fraction: number) => void;
}

/** Output frame size for an aspect ratio. */
export function frameSizeFor(aspectRatio: '16:9' | '9:16'): { width: number; height: number } {
  return aspectRatio === '16:9' ? { width: 1280, height: 720 } : { width: 720, height: 1280 };
}

/**
 * A failure the engine understands, thrown inside the render steps and turned into an
 * `EngineFailure` value at the engine's edge.
 */
export class RenderFailure extends Error {
  constructor(
    readonly failCode: 'INVALID_PARAMETER' | 'UNSUPPORTED_FORMAT' | 'TASKID_ERROR' | 'INTERNAL_ERROR',
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'RenderFailure';
  }
}

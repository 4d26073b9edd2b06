import type { EngineFailure, EngineRunContext } from './engine.js';
import type { PollPolicy } from './poll-schedule.js';

/** What an upstream engine saves on the task before waiting: its job and when it was submitted. */
export interface SavedRef {
  operation: string;
  submittedAt: number;
}

/** A failure of an upstream engine: final for this engine (the route may fail over on UPSTREAM_ERROR). */
export const engineFailure = (failCode: EngineFailure['failCode'], message: string, engineUnavailable?: string): EngineFailure => ({
  ok: false,
  failCode,
  message,
  retryable: false,
  ...(engineUnavailable ? { engineUnavailable } : {}),
});

/** The reference an earlier attempt saved, or null when there is none (or it is not ours). */
function parseSavedRef(raw: string | null): SavedRef | null {
  if (raw === null) return null;
  try {
    const v = JSON.parse(raw) as Partial<SavedRef>;
    return typeof v.operation === 'string' && typeof v.submittedAt === 'number' ? { operation: v.operation, submittedAt: v.submittedAt } : null;
  } catch {
    return null;
  }
}

/**
 * A finished Veo operation without a video: filtered by Responsible AI (count or reasons given),
 * or else an error. Shared by the Gemini API's and Vertex AI's answers, which name these alike.
 */
export function withoutVideo(r: {
  raiMediaFilteredCount?: unknown;
  raiMediaFilteredReasons?: unknown;
}): { kind: 'filtered'; reasons: string[] } | { kind: 'error'; code: null; message: string } {
  const reasons = Array.isArray(r.raiMediaFilteredReasons) ? r.raiMediaFilteredReasons.filter((x): x is string => typeof x === 'string') : [];
  const count = typeof r.raiMediaFilteredCount === 'number' ? r.raiMediaFilteredCount : 0;
  if (count > 0 || reasons.length > 0) return { kind: 'filtered', reasons };
  return { kind: 'error', code: null, message: 'the operation finished without a video' };
}

/**
 * The saved job of an earlier attempt, or a new one: `submit` runs only when none was saved, and
 * its job is saved through `ctx` before anything waits on it, so from then on a restarted worker
 * resumes that job and never submits (and pays) twice.
 */
export async function submitOrResume(
  ctx: EngineRunContext | undefined,
  submit: () => Promise<SavedRef | EngineFailure>,
): Promise<{ ref: SavedRef; resumed: boolean } | EngineFailure> {
  const saved = parseSavedRef(ctx?.upstreamRef ?? null);
  if (saved !== null) return { ref: saved, resumed: true };
  const submitted = await submit();
  if ('ok' in submitted) return submitted;
  await ctx?.saveUpstreamRef(JSON.stringify(submitted));
  return { ref: submitted, resumed: false };
}

/** What every upstream engine takes beside its own settings (LONGSHOT_UPSTREAM_*, the tools). */
export interface UpstreamEngineOptions {
  /** The instance name used in routes and recorded on tasks. */
  name: string;
  poll: PollPolicy;
  /** First delay of a retried call; doubles. */
  retryMs: number;
  retries: number;
  /** From the submit: no result by then → TIMEOUT. */
  deadlineMs: number;
  ffmpegPath: string;
  /** For watermarks (the same font as the local engine). */
  fontPath: string;
  now?: () => number;
}

/** A finished Veo operation that gave no video, as a fail code (Gemini API and Vertex AI alike). */
export function veoFailure(state: { kind: 'filtered'; reasons: string[] } | { kind: 'error'; code: number | null; message: string }): EngineFailure {
  if (state.kind === 'filtered') {
    return engineFailure('CONTENT_VIOLATION', `Veo filtered the video (Responsible AI)${state.reasons.length ? `: ${state.reasons.join('; ')}` : ''}`);
  }
  // google.rpc.Code 3 = INVALID_ARGUMENT: the request, not the service, is at fault.
  return engineFailure(state.code === 3 ? 'INVALID_PARAMETER' : 'UPSTREAM_ERROR', `Veo failed: ${state.message}`);
}

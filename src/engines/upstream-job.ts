import type { EngineFailure, EngineRunContext, UpstreamCheck } from './engine.js';
import type { PollAnswer } from './poll-loop.js';
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
 * One look at a saved job that was given up on: `poll` is the engine's own poll of it, `video`
 * says whether its final answer carries a video. Any fault, or a reference that is not ours, is
 * `unknown` (asked again later).
 */
export async function checkSavedJob<T>(raw: string, poll: (ref: SavedRef) => Promise<PollAnswer<T>>, video: (done: T) => boolean): Promise<UpstreamCheck> {
  const ref = parseSavedRef(raw);
  if (ref === null) return 'unknown';
  try {
    const answer = await poll(ref);
    if ('running' in answer) return 'running';
    if ('done' in answer) return video(answer.done) ? 'completed' : 'failed';
    return 'unknown';
  } catch {
    return 'unknown';
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
  /** From the submit: no result by then → overdue, polled on the slow schedule. */
  deadlineMs: number;
  /** From the submit: an overdue job still without a result → TIMEOUT (docs/operations.md). */
  hardLimitMs?: number;
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

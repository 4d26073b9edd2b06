import type { EngineFailure } from './engine.js';

/** What an upstream engine saves on the task before waiting: its job and when it was submitted. */
export interface SavedRef {
  operation: string;
  submittedAt: number;
}

/** A failure of an upstream engine: final for this engine (the route may fail over on UPSTREAM_ERROR). */
export const engineFailure = (failCode: EngineFailure['failCode'], message: string, engineUnavailable?: string): EngineFailure =>
  ({ ok: false, failCode, message, retryable: false, ...(engineUnavailable ? { engineUnavailable } : {}) });

/** The reference an earlier attempt saved, or null when there is none (or it is not ours). */
export function parseSavedRef(raw: string | null): SavedRef | null {
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
export function withoutVideo(r: { raiMediaFilteredCount?: unknown; raiMediaFilteredReasons?: unknown }):
  { kind: 'filtered'; reasons: string[] } | { kind: 'error'; code: null; message: string } {
  const reasons = Array.isArray(r.raiMediaFilteredReasons) ? r.raiMediaFilteredReasons.filter((x): x is string => typeof x === 'string') : [];
  const count = typeof r.raiMediaFilteredCount === 'number' ? r.raiMediaFilteredCount : 0;
  if (count > 0 || reasons.length > 0) return { kind: 'filtered', reasons };
  return { kind: 'error', code: null, message: 'the operation finished without a video' };
}

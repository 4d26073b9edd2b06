/**
 * When to try a webhook delivery again. Pure: no I/O, time and randomness are passed in, so the
 * rules can be tested exactly. docs/contract.md §5: 2xx is delivered, 410 stops, `Retry-After` on
 * 429/503 is honoured, everything else is retried on the configured schedule.
 */
import { retryAfterMs as parseRetryAfter } from '../domain/retry-after.js';

/** Delays before retry 1, 2, …: seven attempts over about 31 hours. */
export const DEFAULT_RETRY_SCHEDULE = '30s,2m,10m,1h,6h,24h';

/** A receiver cannot push a retry further out than this with `Retry-After`. */
export const RETRY_AFTER_CAP_MS = 24 * 3_600_000;

/** Jitter adds up to this share of a delay, so receivers that failed together do not retry together. */
const JITTER_SHARE = 0.1;

const MAX_STEP_MS = 7 * 86_400_000;
const MAX_STEPS = 20;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `"30s"`, `"2m"`, `"1.5h"`, `"250ms"` → ms; null when not a duration. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return null;
  const ms = Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
  return Number.isFinite(ms) ? ms : null;
}

/** `"30s,2m,10m"` → `[30000, 120000, 600000]`; `"none"` → no retries; null when invalid. */
export function parseRetrySchedule(text: string): number[] | null {
  const t = text.trim();
  if (t === 'none') return [];
  const parts = t.split(',');
  if (parts.length > MAX_STEPS) return null;
  const steps: number[] = [];
  for (const p of parts) {
    const ms = parseDuration(p);
    if (ms === null || ms > MAX_STEP_MS) return null;
    steps.push(ms);
  }
  return steps;
}

export { parseRetryAfter };

/** What one attempt came to, as the sender saw it. */
export type AttemptResult = { kind: 'response'; status: number; retryAfter?: string | string[] } | { kind: 'error'; message: string };

/** The decision after an attempt: the delivery's new state and, while pending, when to try next. */
export type NextStep = { state: 'delivered' | 'failed' | 'gone'; nextAttemptAt: null } | { state: 'pending'; nextAttemptAt: number };

/**
 * Decides what follows attempt number `attempt` (1-based). `random` in [0, 1) drives the jitter.
 * A `Retry-After` can delay a retry beyond the schedule but never make it earlier, and it does
 * not add attempts: the schedule's length is the retry budget either way.
 */
export function nextStep(result: AttemptResult, attempt: number, schedule: readonly number[], now: number, random: () => number): NextStep {
  if (result.kind === 'response') {
    if (result.status >= 200 && result.status < 300) return { state: 'delivered', nextAttemptAt: null };
    // 410: the receiver says this endpoint is gone for good; retrying would only add load.
    if (result.status === 410) return { state: 'gone', nextAttemptAt: null };
  }
  const base = schedule[attempt - 1];
  if (base === undefined) return { state: 'failed', nextAttemptAt: null };
  let delay = Math.round(base * (1 + JITTER_SHARE * random()));
  if (result.kind === 'response' && (result.status === 429 || result.status === 503)) {
    const asked = parseRetryAfter(result.retryAfter, now);
    if (asked !== null) delay = Math.max(delay, Math.min(asked, RETRY_AFTER_CAP_MS));
  }
  return { state: 'pending', nextAttemptAt: now + delay };
}

/** A short, human description of a non-2xx answer for the attempt log. */
export function describeStatus(status: number): string | null {
  if (status >= 200 && status < 300) return null;
  if (status >= 300 && status < 400) return `answered ${status}; redirects are not followed`;
  if (status === 410) return 'answered 410 Gone; no more retries';
  return `answered ${status}, not 2xx`;
}

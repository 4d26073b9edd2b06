/** Backoff arithmetic of the client, kept pure so it can be tested without a server. */

/** Statuses worth another try: rate limited, or a server/upstream fault that may pass. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);

export { retryAfterMs as parseRetryAfter } from '../domain/retry-after.js';

export interface BackoffOptions {
  /** First delay before jitter (default 500 ms). */
  baseMs?: number;
  /** Upper bound before jitter (default 20 s). */
  capMs?: number;
}

/**
 * Exponential backoff with "equal jitter": half of `min(cap, base·2^(attempt-1))` fixed, the
 * other half random, so retries from many clients spread out but never come back instantly.
 * `attempt` is 1 for the first retry.
 */
export function backoffDelay(attempt: number, random: () => number, opts: BackoffOptions = {}): number {
  const base = opts.baseMs ?? 500;
  const cap = opts.capMs ?? 20_000;
  const exp = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/**
 * The delay before retry number `attempt`: the server's Retry-After when it gave one (plus up to
 * 250 ms of jitter, never less than asked), else the exponential backoff.
 */
export function retryDelay(attempt: number, retryAfterMs: number | null, random: () => number, opts: BackoffOptions = {}): number {
  if (retryAfterMs !== null) return retryAfterMs + Math.round(random() * 250);
  return backoffDelay(attempt, random, opts);
}

/** A sleep that ends early, rejecting with the signal's reason, when `signal` aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

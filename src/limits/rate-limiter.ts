/**
 * Fixed-window request counting per key and bucket (e.g. "submit" per API key per minute).
 * A port: this in-memory version serves one process; a Redis version (INCR + PEXPIRE on the same
 * window key) serves many with the same answers.
 */
export interface RateLimiter {
  /** Counts one request and says whether it is within `limit` per `windowMs`. */
  hit(bucket: string, id: string, limit: number, windowMs: number, now: number): Promise<RateDecision>;
  /** `hit` answered synchronously, where the count lives in this process. */
  hitNow?(bucket: string, id: string, limit: number, windowMs: number, now: number): RateDecision;
}

/** docs/contract.md §7: limits are per minute. */
export const RATE_WINDOW_MS = 60_000;

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

/** The in-memory limiter always answers synchronously. */
export type MemoryRateLimiter = RateLimiter & Required<Pick<RateLimiter, 'hitNow'>>;

export function createMemoryRateLimiter(): MemoryRateLimiter {
  const windows = new Map<string, { start: number; count: number }>();
  let lastSweep = 0;
  const hitNow = (bucket: string, id: string, limit: number, windowMs: number, now: number): RateDecision => {
    const start = now - (now % windowMs);
    // Drop finished windows now and then so the map holds only the current minute's keys.
    if (now - lastSweep > windowMs) {
      for (const [k, w] of windows) if (w.start + windowMs <= now) windows.delete(k);
      lastSweep = now;
    }
    const key = `${bucket}:${id}`;
    let w = windows.get(key);
    if (!w || w.start !== start) {
      w = { start, count: 0 };
      windows.set(key, w);
    }
    w.count++;
    const allowed = w.count <= limit;
    return { allowed, limit, remaining: Math.max(0, limit - w.count), resetMs: start + windowMs - now };
  };
  return { hitNow, hit: async (...args) => hitNow(...args) };
}

/**
 * The IETF draft header fields (draft-ietf-httpapi-ratelimit-headers-10): the policy as
 * `"name";q=<quota>;w=<window s>` and the current state as `"name";r=<remaining>;t=<reset s>`.
 */
export function rateLimitHeaders(policy: string, d: RateDecision, windowMs: number): Record<string, string> {
  const t = Math.max(0, Math.ceil(d.resetMs / 1000));
  return {
    'ratelimit-policy': `"${policy}";q=${d.limit};w=${Math.round(windowMs / 1000)}`,
    ratelimit: `"${policy}";r=${d.remaining};t=${t}`,
  };
}

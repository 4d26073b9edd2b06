import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RateDecision, RateLimiter } from './rate-limiter.js';

/**
 * Counts one hit and, on the window's first hit, sets its expiry — in one script, so a crash
 * between INCR and PEXPIRE cannot leave a counter that never expires.
 */
const HIT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`;

export interface RedisRateLimiter extends RateLimiter {
  close(): Promise<void>;
}

export interface RedisRateLimiterOptions {
  /** Key prefix, so several deployments (or tests) can share one Redis. */
  prefix?: string;
  log?: Logger;
}

/**
 * The RateLimiter port on Redis: the same fixed windows as the in-memory limiter, shared by every
 * API process. The window is chosen from the caller's clock (`now`), exactly as in memory, so
 * both give the same answers; the key names the window start, so windows never bleed into each
 * other even if the processes' clocks differ slightly.
 *
 * If Redis cannot be reached the request is let through (fail open) and the fault is logged:
 * limits protect the service, and an outage of the limiter should not become an outage of the API.
 */
export function createRedisRateLimiter(url: string, opts: RedisRateLimiterOptions = {}): RedisRateLimiter {
  const prefix = opts.prefix ?? 'longshot:rl:';
  const redis = new Redis(url, {
    // Fail fast instead of queueing requests behind a reconnect.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 2000,
    commandTimeout: 2000,
  });
  redis.defineCommand('longshotHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
  let lastWarn = 0;
  redis.on('error', (err) => {
    // ioredis reports every failed reconnect; one line every 10 s is enough.
    if (Date.now() - lastWarn > 10_000) {
      lastWarn = Date.now();
      opts.log?.warn({ err }, 'redis rate limiter: connection problem; requests are let through meanwhile');
    }
  });
  const hit = (redis as unknown as { longshotHit(key: string, ttlMs: number): Promise<number> }).longshotHit.bind(redis);

  return {
    async hit(bucket, id, limit, windowMs, now): Promise<RateDecision> {
      const start = now - (now % windowMs);
      const resetMs = start + windowMs - now;
      let count: number;
      try {
        // Kept a little past the window's end so a slightly late clock still finds its counter.
        count = Number(await hit(`${prefix}${bucket}:${id}:${start}`, resetMs + 5000));
      } catch (err) {
        opts.log?.warn({ err, bucket }, 'redis rate limiter failed; letting the request through');
        return { allowed: true, limit, remaining: limit, resetMs };
      }
      return { allowed: count <= limit, limit, remaining: Math.max(0, limit - count), resetMs };
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

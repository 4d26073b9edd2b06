import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createMemoryRateLimiter, type RateDecision, type RateLimiter } from './rate-limiter.js';

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
  /** While Redis is down, how often to check whether it is back (default 2 s). */
  retryMs?: number;
  /** Deadline of one Redis command; only the request that finds Redis hung waits this (default 1 s). */
  commandTimeoutMs?: number;
}

/**
 * The RateLimiter port on Redis: the same fixed windows as the in-memory limiter, shared by every
 * API process. The window is chosen from the caller's clock (`now`), exactly as in memory, so
 * both give the same answers; the key names the window start, so windows never bleed into each
 * other even if the processes' clocks differ slightly.
 *
 * While Redis is unreachable, each process enforces the same limits on its own (an in-memory
 * insurance count that is kept all along, so it knows this window's share already), rather than
 * letting everything through or refusing everything (docs/operations.md). A circuit keeps
 * requests off a dead Redis: after one failure Redis is skipped, and checked again in the
 * background, until it answers. Each outage is logged twice: a warning when it starts, an info
 * when it ends.
 */
export function createRedisRateLimiter(url: string, opts: RedisRateLimiterOptions = {}): RedisRateLimiter {
  const prefix = opts.prefix ?? 'longshot:rl:';
  const retryMs = opts.retryMs ?? 2000;
  const log = opts.log;
  const insurance = createMemoryRateLimiter();
  const redis = new Redis(url, {
    // Commands sent while connecting at start wait for the connection; once the circuit is open
    // none are sent, so nothing queues behind a reconnect.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 2000,
    commandTimeout: opts.commandTimeoutMs ?? 1000,
  });
  redis.defineCommand('longshotHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
  const hit = (redis as unknown as { longshotHit(key: string, ttlMs: number): Promise<number> }).longshotHit.bind(redis);

  /** Set while Redis is considered down: requests are answered from the insurance count. */
  let outage: { since: number; timer: NodeJS.Timeout } | null = null;
  let probing = false;
  let closing = false;

  const trip = (err: unknown): void => {
    if (closing || outage) {
      log?.debug({ err }, 'redis rate limiter: Redis still unreachable');
      return;
    }
    const timer = setInterval(() => void probe(), retryMs);
    timer.unref();
    outage = { since: Date.now(), timer };
    log?.warn({ err }, 'redis rate limiter: Redis is unreachable; each API process enforces the rate limits on its own until it is back');
  };

  const probe = async (): Promise<void> => {
    // While ioredis reconnects there is nothing to ask; its 'ready' event calls back here.
    if (!outage || probing || closing || redis.status !== 'ready') return;
    probing = true;
    try {
      await redis.ping();
      if (outage && !closing) {
        clearInterval(outage.timer);
        log?.info({ outageMs: Date.now() - outage.since }, 'redis rate limiter: Redis is reachable again; rate limits are shared again');
        outage = null;
      }
    } catch (err) {
      log?.debug({ err }, 'redis rate limiter: Redis did not answer the check');
    } finally {
      probing = false;
    }
  };

  // ioredis reports every failed reconnect as an error; the circuit turns them into one warning.
  redis.on('error', trip);
  redis.on('close', () => trip(new Error('the connection to Redis closed')));
  redis.on('ready', () => void probe());

  return {
    async hit(bucket, id, limit, windowMs, now): Promise<RateDecision> {
      // Counted in this process as well, always: should Redis fail in this window, the
      // insurance count already holds this process's share of it.
      const local = insurance.hitNow(bucket, id, limit, windowMs, now);
      if (outage || closing) return local;
      const start = now - (now % windowMs);
      const resetMs = start + windowMs - now;
      let count: number;
      try {
        // Kept a little past the window's end so a slightly late clock still finds its counter.
        count = Number(await hit(`${prefix}${bucket}:${id}:${start}`, resetMs + 5000));
      } catch (err) {
        trip(err);
        return local;
      }
      return { allowed: count <= limit, limit, remaining: Math.max(0, limit - count), resetMs };
    },
    async close() {
      closing = true;
      if (outage) clearInterval(outage.timer);
      // QUIT would wait for a Redis that is not there.
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
    },
  };
}

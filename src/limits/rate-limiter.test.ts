import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { available } from '../../test/support/requires.js';
import { createMemoryRateLimiter, type RateLimiter } from './rate-limiter.js';
import { createRedisRateLimiter, type RedisRateLimiter } from './redis-rate-limiter.js';

/**
 * The RateLimiter port suite, run against every implementation: memory always, Redis when
 * REDIS_URL is set (e.g. redis://127.0.0.1:6379). Each Redis run uses its own key prefix.
 */
const redisUrl = process.env.REDIS_URL;
const opened: RedisRateLimiter[] = [];
afterAll(async () => {
  for (const l of opened) await l.close();
});

const IMPLEMENTATIONS: Array<{ name: string; make: () => RateLimiter }> = [
  { name: 'memory', make: () => createMemoryRateLimiter() },
  ...(redisUrl
    ? [
        {
          name: 'redis',
          make: () => {
            const l = createRedisRateLimiter(redisUrl, { prefix: `longshot-test:${randomBytes(6).toString('hex')}:` });
            opened.push(l);
            return l;
          },
        },
      ]
    : []),
];

const MIN = 60_000;

for (const impl of IMPLEMENTATIONS) {
  describe(`rate limiter on ${impl.name}`, () => {
    it('allows `limit` hits per window, then refuses, with remaining and reset', async () => {
      const l = impl.make();
      const t0 = 1_699_999_990_000; // 10 s into a minute window (1_699_999_980_000 is a boundary)
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await l.hit('submit', 'k1', 3, MIN, t0 + i));
      expect(answers.map((a) => a.allowed)).toEqual([true, true, true, false]);
      expect(answers.map((a) => a.remaining)).toEqual([2, 1, 0, 0]);
      expect(answers[0]!.limit).toBe(3);
      expect(answers[0]!.resetMs).toBe(50_000);
      expect(answers[3]!.resetMs).toBe(49_997);
    });

    it('starts a fresh window at the boundary', async () => {
      const l = impl.make();
      const start = 1_700_000_040_000;
      expect((await l.hit('submit', 'k2', 1, MIN, start + 59_999)).allowed).toBe(true);
      expect((await l.hit('submit', 'k2', 1, MIN, start + 59_999)).allowed).toBe(false);
      const next = await l.hit('submit', 'k2', 1, MIN, start + 60_000);
      expect(next).toEqual({ allowed: true, limit: 1, remaining: 0, resetMs: 60_000 });
    });

    it('keeps buckets and ids apart', async () => {
      const l = impl.make();
      const now = 1_700_000_100_000;
      expect((await l.hit('submit', 'a', 1, MIN, now)).allowed).toBe(true);
      expect((await l.hit('status', 'a', 1, MIN, now)).allowed).toBe(true);
      expect((await l.hit('submit', 'b', 1, MIN, now)).allowed).toBe(true);
      expect((await l.hit('submit', 'a', 1, MIN, now)).allowed).toBe(false);
    });

    it('counts concurrent hits exactly', async () => {
      const l = impl.make();
      const now = 1_700_000_200_000;
      const answers = await Promise.all(Array.from({ length: 50 }, () => l.hit('status', 'c', 20, MIN, now)));
      expect(answers.filter((a) => a.allowed)).toHaveLength(20);
      expect(answers.map((a) => a.remaining).sort((x, y) => x - y)[0]).toBe(0);
    });
  });
}

describe.skipIf(!available('Redis (REDIS_URL)', redisUrl ? null : 'REDIS_URL is not set'))('redis rate limiter shared by processes', () => {
  it('two limiters on one Redis share one budget (as two API processes do)', async () => {
    const prefix = `longshot-test:${randomBytes(6).toString('hex')}:`;
    const a = createRedisRateLimiter(redisUrl!, { prefix });
    const b = createRedisRateLimiter(redisUrl!, { prefix });
    opened.push(a, b);
    const now = 1_700_000_300_000;
    const got = [];
    for (let i = 0; i < 6; i++) got.push((await (i % 2 ? b : a).hit('submit', 'shared', 4, MIN, now)).allowed);
    expect(got).toEqual([true, true, true, true, false, false]);
  });

  it('lets requests through when Redis cannot be reached', async () => {
    const l = createRedisRateLimiter('redis://127.0.0.1:1', {});
    opened.push(l);
    const d = await l.hit('submit', 'x', 1, MIN, 1_700_000_000_000);
    expect(d.allowed).toBe(true);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatencyHistories, LatencyHistory, nextPollDelay, type PollPolicy } from './poll-schedule.js';

const POLICY: PollPolicy = { denseMs: 5_000, sparseMaxMs: 30_000 };
const S = 1_000;

/** A seeded PRNG (mulberry32), so the simulation is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const historyOf = (samples: number[], capacity?: number): LatencyHistory => {
  const h = new LatencyHistory(capacity);
  for (const ms of samples) h.record(ms);
  return h;
};

describe('LatencyHistory', () => {
  it('answers quantiles by nearest rank, whatever the order of recording', () => {
    const h = historyOf([70, 10, 100, 40, 20, 90, 30, 60, 80, 50]);
    expect(h.size).toBe(10);
    expect(h.quantile(0)).toBe(10);
    expect(h.quantile(0.05)).toBe(10); // rank ceil(0.5) = 1
    expect(h.quantile(0.1)).toBe(10); // rank 1
    expect(h.quantile(0.11)).toBe(20); // rank ceil(1.1) = 2
    expect(h.quantile(0.5)).toBe(50); // rank 5
    expect(h.quantile(0.95)).toBe(100); // rank ceil(9.5) = 10
    expect(h.quantile(1)).toBe(100);
  });

  it('is empty at first and ignores samples that are not durations', () => {
    const h = historyOf([Number.NaN, -1, Number.POSITIVE_INFINITY]);
    expect(h.size).toBe(0);
    expect(h.quantile(0.5)).toBeNull();
  });

  it('keeps the newest `capacity` samples, dropping the oldest', () => {
    const h = historyOf([1, 2, 3], 3);
    expect(h.quantile(0)).toBe(1);
    h.record(4);
    expect(h.size).toBe(3);
    // A cached sort must not survive a new sample.
    expect(h.quantile(0)).toBe(2);
    expect(h.quantile(1)).toBe(4);
  });

  it('keeps one history per key', () => {
    const hs = new LatencyHistories();
    hs.for('vertex:fast').record(5);
    expect(hs.for('vertex:fast').size).toBe(1);
    expect(hs.for('vertex:quality').size).toBe(0);
  });
});

describe('nextPollDelay', () => {
  it('polls densely with fewer than 5 samples', () => {
    const h = historyOf([600 * S, 600 * S, 600 * S, 600 * S]);
    expect(nextPollDelay(0, h, POLICY)).toBe(POLICY.denseMs);
    h.record(600 * S);
    expect(nextPollDelay(0, h, POLICY)).toBe(POLICY.sparseMaxMs);
  });

  it('waits sparsely until the 5th percentile, then densely', () => {
    // 20 samples: the 5th percentile (rank 1) is the fastest, 60 s.
    const h = historyOf([60 * S, ...Array.from({ length: 19 }, (_, i) => (90 + i * 10) * S)]);
    expect(h.quantile(0.05)).toBe(60 * S);
    expect(nextPollDelay(0, h, POLICY)).toBe(30 * S);
    expect(nextPollDelay(40 * S, h, POLICY)).toBe(20 * S); // lands on 60 s
    expect(nextPollDelay(54 * S, h, POLICY)).toBe(6 * S); // lands on 60 s, longer than dense
    expect(nextPollDelay(58 * S, h, POLICY)).toBe(POLICY.denseMs);
    expect(nextPollDelay(60 * S, h, POLICY)).toBe(POLICY.denseMs);
    expect(nextPollDelay(300 * S, h, POLICY)).toBe(POLICY.denseMs);
  });

  it('honours a Retry-After longer than its own wait, and only then', () => {
    const h = historyOf(Array.from({ length: 20 }, () => 60 * S));
    expect(nextPollDelay(40 * S, h, POLICY, 45 * S)).toBe(45 * S);
    expect(nextPollDelay(40 * S, h, POLICY, 1 * S)).toBe(20 * S);
    expect(nextPollDelay(100 * S, h, POLICY, 12 * S)).toBe(12 * S);
    expect(nextPollDelay(0, new LatencyHistory(), POLICY, 7 * S)).toBe(7 * S);
  });

  it('never waits less than denseMs nor more than max(sparseMaxMs, retryAfter)', () => {
    const policyArb = fc
      .integer({ min: 1, max: 60 * S })
      .chain((denseMs) => fc.integer({ min: denseMs, max: denseMs + 300 * S }).map((sparseMaxMs) => ({ denseMs, sparseMaxMs })));
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1_000 * S }), { maxLength: 40 }),
        fc.integer({ min: 0, max: 1_000 * S }),
        policyArb,
        fc.option(fc.integer({ min: 0, max: 600 * S }), { nil: undefined }),
        (samples, elapsed, policy, retryAfter) => {
          const d = nextPollDelay(elapsed, historyOf(samples), policy, retryAfter);
          expect(d).toBeGreaterThanOrEqual(policy.denseMs);
          expect(d).toBeLessThanOrEqual(Math.max(policy.sparseMaxMs, retryAfter ?? 0));
        },
      ),
      { seed: 20_240_611, numRuns: 500 },
    );
  });

  it('adds at most denseMs of latency (median) at no more than one poll per denseMs of job time', () => {
    const rand = prng(7);
    const draw = (): number => 11 * S + rand() * (360 - 11) * S;
    const h = historyOf(Array.from({ length: 200 }, draw));
    const added: number[] = [];
    let polls = 0;
    let jobTime = 0;
    for (let job = 0; job < 2_000; job++) {
      const done = draw();
      let t = 0;
      for (;;) {
        t += nextPollDelay(t, h, POLICY);
        polls++;
        if (t >= done) break;
      }
      added.push(t - done);
      jobTime += done;
    }
    added.sort((a, b) => a - b);
    const median = added[added.length / 2]!;
    expect(median).toBeLessThanOrEqual(POLICY.denseMs);
    expect(polls).toBeLessThanOrEqual(jobTime / POLICY.denseMs);
    // No job waits longer past its end than the longest sparse wait.
    expect(added.at(-1)!).toBeLessThanOrEqual(POLICY.sparseMaxMs);
  });
});

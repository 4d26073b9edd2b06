import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_SCHEDULE, describeStatus, nextStep, parseDuration, parseRetryAfter, parseRetrySchedule, RETRY_AFTER_CAP_MS } from './schedule.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const SCHEDULE = [30_000, 120_000];
const noJitter = () => 0;

describe('retry schedule parsing', () => {
  it('parses the default and unit forms', () => {
    expect(parseRetrySchedule(DEFAULT_RETRY_SCHEDULE)).toEqual([30_000, 120_000, 600_000, 3_600_000, 21_600_000, 86_400_000]);
    expect(parseRetrySchedule(' 250ms, 1.5s ,1d')).toEqual([250, 1500, 86_400_000]);
    expect(parseRetrySchedule('none')).toEqual([]);
    expect(parseDuration('2m')).toBe(120_000);
  });

  it('refuses what is not a schedule', () => {
    for (const bad of ['', '30', '30 s', '-1s', '1w', '30s,,2m', '8d', Array(21).fill('1s').join(',')]) {
      expect(parseRetrySchedule(bad), bad).toBeNull();
    }
  });
});

describe('Retry-After', () => {
  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(new Date(NOW + 90_000).toUTCString(), NOW)).toBe(90_000);
    expect(parseRetryAfter(new Date(NOW - 90_000).toUTCString(), NOW)).toBe(0);
    expect(parseRetryAfter(['5', '9'], NOW)).toBe(5000);
  });

  it('ignores garbage', () => {
    for (const v of [undefined, '', 'soon', '1.5', '-3', 'Mon, 99 Foo 2026']) expect(parseRetryAfter(v, NOW), String(v)).toBeNull();
  });
});

describe('nextStep', () => {
  const res = (status: number, retryAfter?: string) => ({ kind: 'response' as const, status, ...(retryAfter ? { retryAfter } : {}) });

  it('any 2xx is delivered; 410 is gone at once', () => {
    expect(nextStep(res(204), 1, SCHEDULE, NOW, noJitter)).toEqual({ state: 'delivered', nextAttemptAt: null });
    expect(nextStep(res(410), 1, SCHEDULE, NOW, noJitter)).toEqual({ state: 'gone', nextAttemptAt: null });
  });

  it('failures (3xx included) retry on the schedule until it is used up', () => {
    expect(nextStep(res(500), 1, SCHEDULE, NOW, noJitter)).toEqual({ state: 'pending', nextAttemptAt: NOW + 30_000 });
    expect(nextStep(res(302), 2, SCHEDULE, NOW, noJitter)).toEqual({ state: 'pending', nextAttemptAt: NOW + 120_000 });
    expect(nextStep({ kind: 'error', message: 'timeout' }, 3, SCHEDULE, NOW, noJitter)).toEqual({ state: 'failed', nextAttemptAt: null });
    expect(nextStep(res(500), 1, [], NOW, noJitter)).toEqual({ state: 'failed', nextAttemptAt: null });
  });

  it('adds up to 10 % jitter, never less than the schedule', () => {
    expect(nextStep(res(500), 1, SCHEDULE, NOW, () => 0.999).nextAttemptAt).toBe(NOW + 32_997);
  });

  it('honours Retry-After on 429 and 503 only, later of the two, capped', () => {
    expect(nextStep(res(429, '300'), 1, SCHEDULE, NOW, noJitter).nextAttemptAt).toBe(NOW + 300_000);
    expect(nextStep(res(503, '5'), 1, SCHEDULE, NOW, noJitter).nextAttemptAt).toBe(NOW + 30_000);
    expect(nextStep(res(500, '300'), 1, SCHEDULE, NOW, noJitter).nextAttemptAt).toBe(NOW + 30_000);
    expect(nextStep(res(503, String(365 * 86_400)), 1, SCHEDULE, NOW, noJitter).nextAttemptAt).toBe(NOW + RETRY_AFTER_CAP_MS);
    // Retry-After does not buy attempts beyond the schedule.
    expect(nextStep(res(429, '1'), 3, SCHEDULE, NOW, noJitter).state).toBe('failed');
  });

  it('describes non-2xx answers for the log', () => {
    expect(describeStatus(200)).toBeNull();
    expect(describeStatus(302)).toMatch(/redirects are not followed/);
    expect(describeStatus(500)).toMatch(/500/);
  });
});

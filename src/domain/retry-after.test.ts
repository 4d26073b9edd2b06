import { describe, expect, it } from 'vitest';
import { retryAfterMs } from './retry-after.js';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

describe('retryAfterMs', () => {
  it('reads delay-seconds, including 0 and years-looking numbers', () => {
    expect(retryAfterMs('120', NOW)).toBe(120_000);
    expect(retryAfterMs(' 7 ', NOW)).toBe(7000);
    expect(retryAfterMs('0', NOW)).toBe(0);
    // RFC 9110 §10.2.3: a bare number is always delay-seconds, never a year.
    expect(retryAfterMs('2024', NOW)).toBe(2_024_000);
  });

  it('reads the three HTTP-date forms as a delay from now; a past date is 0', () => {
    const inTwo = new Date(NOW + 2000);
    expect(retryAfterMs(inTwo.toUTCString(), NOW)).toBe(2000);
    expect(retryAfterMs('Thu, 15 Jan 2026 12:01:30 GMT', NOW)).toBe(90_000);
    expect(retryAfterMs('Thursday, 15-Jan-26 12:01:30 GMT', NOW)).toBe(90_000);
    expect(retryAfterMs('Thu Jan 15 12:01:30 2026', NOW)).toBe(90_000);
    expect(retryAfterMs('Thu Jan  1 12:00:00 2026', NOW)).toBe(0);
    expect(retryAfterMs(new Date(NOW - 90_000).toUTCString(), NOW)).toBe(0);
    // Two-digit years more than 50 years ahead are in the past century (RFC 9110 §5.6.7).
    expect(retryAfterMs('Sunday, 06-Nov-94 08:49:37 GMT', NOW)).toBe(0);
  });

  it('takes the first of repeated headers', () => {
    expect(retryAfterMs(['5', '9'], NOW)).toBe(5000);
  });

  it('is null when absent, negative, fractional or not a date', () => {
    for (const v of [
      undefined,
      null,
      '',
      '  ',
      '-3',
      '1.5',
      '+5',
      '1e3',
      '0x10',
      'soon',
      'soon 5',
      'foo 2024',
      'June 2030',
      '2030-01-01T00:00:00Z',
      'Mon, 99 Foo 2026',
      'Fri, 31 Feb 2026 00:00:00 GMT',
      'Thu, 15 Jan 2026 25:00:00 GMT',
    ]) {
      expect(retryAfterMs(v, NOW), String(v)).toBeNull();
    }
  });

  it('defaults now to the current time', () => {
    expect(retryAfterMs('3')).toBe(3000);
    const soon = retryAfterMs(new Date(Date.now() + 60_000).toUTCString());
    expect(soon).toBeGreaterThan(55_000);
    expect(soon).toBeLessThanOrEqual(60_000);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LongshotClient } from '../src/client/index.js';
import { shiftClock, startTestService, type TestService } from './support/service.js';

/**
 * The client's Retry-After handling against the real service and a key with a tiny limit. The
 * client's sleep moves the service's clock instead of waiting, so the minute passes at once.
 */
let t: TestService;
let time: { offset: number };
beforeAll(async () => {
  t = await startTestService({}, { workers: false });
  time = shiftClock(t);
});
afterAll(() => t?.close());

describe('client against a rate-limited key', () => {
  it('waits out a 429 by its Retry-After and then succeeds', async () => {
    const { key } = await t.newAccount('tiny', 10, { submitRpm: 1, maxUnfinished: 0 });
    const slept: number[] = [];
    const client = new LongshotClient({
      baseUrl: `${t.url}/api/v1`,
      apiKey: key,
      sleep: async (ms) => {
        slept.push(ms);
        time.offset += ms;
      },
    });
    const first = await client.generate({ prompt: 'one', mode: 'fast' });
    const second = await client.generate({ prompt: 'two', mode: 'fast' });
    expect(second).not.toBe(first);
    // One 429 was answered; the client slept at least the server's Retry-After (1-60 s, plus jitter).
    expect(slept).toHaveLength(1);
    expect(slept[0]).toBeGreaterThanOrEqual(1000);
    expect(slept[0]).toBeLessThanOrEqual(61_000);
  });
});

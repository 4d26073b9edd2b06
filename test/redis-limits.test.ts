import { afterAll, describe, expect, it } from 'vitest';
import { createAccount, createApiKey } from '../src/db/accounts-repo.js';
import { available } from './support/requires.js';
import { startTestService, type TestService } from './support/service.js';

/**
 * docs/contract.md §7 across processes: with REDIS_URL, two API services on one database and one
 * Redis share each key's request budget (without it each process would allow the full limit).
 */
const redisUrl = process.env.REDIS_URL;
const services: TestService[] = [];
afterAll(async () => {
  for (const s of services.reverse()) await s.close();
});

describe.skipIf(!available('Redis (REDIS_URL)', redisUrl ? null : 'REDIS_URL is not set'))('rate limits on Redis (skipped: set REDIS_URL to run them)', () => {
  it('two API services hold one budget per key', async () => {
    const a = await startTestService({ REDIS_URL: redisUrl! }, { workers: false });
    services.push(a);
    const b = await startTestService({ REDIS_URL: redisUrl! }, { workers: false, dataDir: a.dataDir });
    services.push(b);
    const account = await createAccount(a.service.deps.db, 'shared-budget', 100_000_000, Date.now());
    const { key } = await createApiKey(a.service.deps.db, account.id, null, Date.now(), { submitRpm: 3, statusRpm: 4 });
    const body = { input: { prompt: 'a calm sea', mode: 'fast' } };
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await (i % 2 ? b : a).api('POST', '/api/v1/generateTask/veo-3-1', { key, body })).status);
    // A window boundary between the calls could reset the count; the test runs well inside one minute.
    expect(codes.filter((c) => c === 200).length).toBeLessThanOrEqual(3);
    expect(codes.slice(0, 3)).toEqual([200, 200, 200]);
    const refused = await b.api('POST', '/api/v1/generateTask/veo-3-1', { key, body });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('ratelimit')).toMatch(/^"submit";r=0;t=\d+$/);
    const reads: number[] = [];
    for (let i = 0; i < 5; i++) reads.push((await (i % 2 ? a : b).api('GET', '/api/v1/apikeys/current-balance', { key })).status);
    expect(reads).toEqual([200, 200, 200, 200, 429]);
  });
});

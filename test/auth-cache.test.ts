import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeApiKey } from '../src/db/accounts-repo.js';
import { startTestService, type TestService } from './support/service.js';

/**
 * The auth cache cannot be flushed by strangers: refusals are kept apart from known keys, so any
 * number of unknown keys leaves a known key cached. The service's clock stands still here, so a
 * cached answer stays fresh until the test moves it on; what the cache holds is then visible
 * over HTTP: a key revoked in the database is still served while its entry is cached.
 */
let t: TestService;
let now = Date.now();
beforeAll(async () => {
  t = await startTestService({}, { workers: false, service: { clock: { now: () => now } } });
});
afterAll(() => t?.close());

const FLOOD = 10_050;
const CONCURRENCY = 32;

describe('the auth cache', () => {
  it('keeps a known key through 10,000+ unknown ones; revocation still takes effect within 1 s', async () => {
    const { key, accountId } = await t.newAccount('kept', 10);
    const gen = await t.api('POST', '/api/v1/generateTask/veo-3-1', { key, body: { input: { prompt: 'kept', mode: 'fast' } } });
    const status = `/api/v1/statusTask/veo-3-1?taskId=${gen.body.data.taskId}`;
    expect((await t.api('GET', status, { key })).status).toBe(200);

    let next = 0;
    const refused: number[] = [];
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < FLOOD) {
          next++;
          const res = await fetch(`${t.url}/api/v1/apikeys/current-balance`, {
            headers: { authorization: `Bearer lsk_${randomBytes(32).toString('base64url')}` },
          });
          await res.arrayBuffer();
          refused.push(res.status);
        }
      }),
    );
    expect(refused.length).toBeGreaterThanOrEqual(FLOOD);
    expect(new Set(refused)).toEqual(new Set([401]));

    const row = await t.service.deps.db.kysely.selectFrom('api_keys').select('id').where('account_id', '=', accountId).executeTakeFirstOrThrow();
    await revokeApiKey(t.service.deps.db, row.id, now);
    // Still answered from the cache (no time has passed for the service): the flood did not evict it.
    expect((await t.api('GET', status, { key })).status).toBe(200);
    expect((await t.api('GET', '/api/v1/apikeys/current-balance', { key })).status).toBe(200);

    now += 1001;
    expect((await t.api('GET', status, { key })).status).toBe(401);
    expect((await t.api('GET', '/api/v1/apikeys/current-balance', { key })).status).toBe(401);
  });
});

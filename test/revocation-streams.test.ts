import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeApiKey } from '../src/db/accounts-repo.js';
import { startTestService, type TestService } from './support/service.js';

/**
 * A key revoked while its SSE stream or long-poll is open ends them (SSE: a `revoked` event, then
 * the end; long-poll: a 401 envelope), as a new request with it is refused. No workers: the task
 * stays pending, so nothing else would end either before the long-poll's 60 s.
 */
let t: TestService;
beforeAll(async () => {
  t = await startTestService({}, { workers: false });
});
afterAll(() => t?.close());

/** Fails the test instead of hanging it when something never ends (a guard, not a timing). */
const GUARD_MS = 30_000;
const within = <T>(p: Promise<T>, what: string): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} did not end within ${GUARD_MS} ms`)), GUARD_MS).unref())]);

describe('revoking a key', () => {
  it('ends its open SSE stream and long-poll', async () => {
    const { key, accountId } = await t.newAccount('revoked-while-open');
    const gen = await t.api('POST', '/api/v1/generateTask/veo-3-1', { key, body: { input: { prompt: 'held open', mode: 'fast' } } });
    const taskId = gen.body.data.taskId;
    const auth = { authorization: `Bearer ${key}` };

    const sse = await fetch(`${t.url}/api/v1/events/${taskId}`, { headers: auth });
    expect(sse.status).toBe(200);
    const reader = sse.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('\n\n')) text += decoder.decode((await reader.read()).value);
    expect(text).toMatch(/^event: status\n/);
    const rest = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return text;
        text += decoder.decode(value);
      }
    })();
    const longPoll = t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}&wait=60`, { key });
    // Lets the long-poll reach the server and be held (were it late, it would be refused at once:
    // a 401 all the same).
    await new Promise((r) => setTimeout(r, 200));

    const keyRow = await t.service.deps.db.kysely.selectFrom('api_keys').select('id').where('account_id', '=', accountId).executeTakeFirstOrThrow();
    expect(await revokeApiKey(t.service.deps.db, keyRow.id, Date.now())).toBe(true);

    const streamed = await within(rest, 'the SSE stream');
    const events = streamed.split('\n\n').filter(Boolean);
    const last = events.at(-1)!;
    expect(last).toMatch(/^event: revoked\n/);
    const data = JSON.parse(
      last
        .split('\n')
        .find((l) => l.startsWith('data: '))!
        .slice(6),
    );
    expect(data).toMatchObject({ code: 401, message: 'Invalid or missing API key' });
    expect(data.data.error).toMatch(/revoked/);

    const polled = await within(longPoll, 'the long-poll');
    expect(polled.status).toBe(401);
    expect(polled.body).toMatchObject({ code: 401, message: 'Invalid or missing API key' });

    expect((await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`, { key })).status).toBe(401);
  });

  it('leaves the streams of other keys open', async () => {
    const one = await t.newAccount('revoked-one');
    const two = await t.newAccount('kept-two');
    const taskOf = async (key: string) =>
      (await t.api('POST', '/api/v1/generateTask/veo-3-1', { key, body: { input: { prompt: 'held', mode: 'fast' } } })).body.data.taskId as string;
    const [a, b] = [await taskOf(one.key), await taskOf(two.key)];
    const kept = t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${b}&wait=3`, { key: two.key });
    const ended = t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${a}&wait=60`, { key: one.key });
    await new Promise((r) => setTimeout(r, 200));
    const row = await t.service.deps.db.kysely.selectFrom('api_keys').select('id').where('account_id', '=', one.accountId).executeTakeFirstOrThrow();
    await revokeApiKey(t.service.deps.db, row.id, Date.now());
    expect((await within(ended, 'the revoked key’s long-poll')).status).toBe(401);
    // The other key's wait runs its course and answers the (unchanged) task.
    const res = await kept;
    expect(res.status).toBe(200);
    expect(res.body.data.state).toBe('pending');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Doc, fetchDocument, mismatch } from './support/openapi.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';

/**
 * Real answers, held against the document: each body is what /api/v1/openapi.json says for its
 * route and status. And the checks the routes' own schemas make (schema-errors.ts) refuse in the
 * envelope, naming the field.
 */
const GEN = '/api/v1/generateTask/veo-3-1';

let t: TestService; // renders
let idle: TestService; // no workers: its tasks stay pending
let doc: Doc;
beforeAll(async () => {
  [t, idle] = await Promise.all([startTestService(), startTestService({}, { workers: false })]);
  doc = await fetchDocument(idle);
});
afterAll(() => Promise.all([t?.close(), idle?.close()]));

/** [documented path, method, the request made] */
type Call = [string, string, Parameters<TestService['api']>];

async function expectDocumented(on: TestService, [path, method, args]: Call, status: number) {
  const res = await on.api(...args);
  expect({ call: `${args[0]} ${args[1]}`, status: res.status }).toEqual({ call: `${args[0]} ${args[1]}`, status });
  expect(mismatch(doc, path, method, status, res.body), `${args[0]} ${args[1]}`).toBeNull();
  return res;
}

describe('answers are what the document says', () => {
  it('for a pending task and the account', async () => {
    const submitted = await expectDocumented(
      idle,
      ['/api/v1/generateTask/{model}', 'post', ['POST', GEN, { body: { input: { prompt: 'a pier', mode: 'fast' } } }]],
      200,
    );
    const { taskId } = submitted.body.data;
    await expectDocumented(idle, ['/api/v1/statusTask/{model}', 'get', ['GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`]], 200);
    await expectDocumented(idle, ['/api/v1/apikeys/current-balance', 'get', ['GET', '/api/v1/apikeys/current-balance']], 200);
    const ledger = await expectDocumented(idle, ['/api/v1/account/ledger', 'get', ['GET', '/api/v1/account/ledger?limit=1']], 200);
    expect(ledger.body.data.nextCursor).toMatch(/^\d+$/);
    await expectDocumented(idle, ['/api/v1/account/ledger', 'get', ['GET', `/api/v1/account/ledger?cursor=${ledger.body.data.nextCursor}`]], 200);
    await expectDocumented(idle, ['/api/v1/webhookDeliveries', 'get', ['GET', `/api/v1/webhookDeliveries?taskId=${taskId}`]], 200);
    const cancelled = await expectDocumented(idle, ['/api/v1/tasks/{taskId}/cancel', 'post', ['POST', `/api/v1/tasks/${taskId}/cancel`]], 200);
    expect(cancelled.body.data).toMatchObject({ state: 'failed', failCode: 'CANCELLED' });
    await expectDocumented(idle, ['/api/v1/tasks/{taskId}/cancel', 'post', ['POST', `/api/v1/tasks/${taskId}/cancel`]], 409);
    await expectDocumented(idle, ['/api/v1/statusTask/{model}', 'get', ['GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`]], 200);
    await expectDocumented(idle, ['/healthz', 'get', ['GET', '/healthz', { key: null }]], 200);
    // The check can fail: a body off the document is caught.
    const off = { code: 200, message: 'success', data: { taskId, state: 'done', createTime: 1 } };
    expect(mismatch(doc, '/api/v1/statusTask/{model}', 'get', 200, off)).toMatch(/state/);
    expect(mismatch(doc, '/api/v1/account/ledger', 'get', 400, { code: 400, message: 'Invalid request', data: { field: 'limit' } })).toMatch(/error/);
  });

  it('for a finished task and its files', async () => {
    const { taskId } = (await t.api('POST', GEN, { body: { input: { prompt: 'a red kite', mode: 'fast', seed: 3 } } })).body.data;
    await waitForTask(t, 'veo-3-1', taskId);
    const status = await expectDocumented(t, ['/api/v1/statusTask/{model}', 'get', ['GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`]], 200);
    const { resultJson, posterUrl } = status.body.data;
    // resultJson is a JSON string whose own schema the document gives (contentSchema).
    const inner = doc.components.schemas.TaskStatus.properties.resultJson;
    expect(inner.contentMediaType).toBe('application/json');
    expect(JSON.parse(resultJson)).toEqual({ resultUrls: [expect.stringMatching(/\/files\/results\/[0-9a-f]{32}\.mp4\?expires=\d+&sig=/)] });
    for (const url of [JSON.parse(resultJson).resultUrls[0] as string, posterUrl as string]) {
      const path = new URL(url).pathname + new URL(url).search;
      const whole = await fetch(t.url + path);
      expect(Object.keys(doc.paths['/files/results/{name}']!.get.responses['200'].content)).toContain(whole.headers.get('content-type'));
      await whole.arrayBuffer();
      const part = await fetch(t.url + path, { headers: { range: 'bytes=0-9' } });
      expect(part.status).toBe(206);
      await part.arrayBuffer();
      for (const bad of [path.replace(/sig=[^&]+/, 'sig=AAAA'), path.split('?')[0]!, `${path}&sig=again`]) {
        await expectDocumented(t, ['/files/results/{name}', 'get', ['GET', bad, { key: null }]], 403);
      }
      await expectDocumented(t, ['/files/results/{name}', 'get', ['GET', path, { key: null, headers: { range: 'bytes=999999999-' } }]], 416);
    }
  });

  it('for errors', async () => {
    const poor = await idle.newAccount('openapi-poor', 0);
    const slow = await idle.newAccount('openapi-slow', 10, { submitRpm: 1 });
    const calls: Array<[Call, number]> = [
      [['/api/v1/generateTask/{model}', 'post', ['POST', GEN, { body: { input: { prompt: 1 } } }]], 400],
      [['/api/v1/generateTask/{model}', 'post', ['POST', GEN, { key: null, body: { input: { prompt: 'x' } } }]], 401],
      [['/api/v1/generateTask/{model}', 'post', ['POST', GEN, { key: poor.key, body: { input: { prompt: 'x' } } }]], 402],
      [['/api/v1/generateTask/{model}', 'post', ['POST', '/api/v1/generateTask/veo-9', { body: { input: { prompt: 'x' } } }]], 404],
      [['/api/v1/generateTask/{model}', 'post', ['POST', GEN, { body: { input: { prompt: 'x', pad: 'y'.repeat(1_100_000) } } }]], 413],
      [
        ['/api/v1/generateTask/{model}', 'post', ['POST', GEN, { rawBody: '{}', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } }]],
        415,
      ],
      [['/api/v1/generateTask/{model}', 'post', ['POST', GEN, { body: { input: { prompt: 'x' } }, headers: { 'idempotency-key': 'k-1' } }]], 200],
      [['/api/v1/generateTask/{model}', 'post', ['POST', GEN, { body: { input: { prompt: 'y' } }, headers: { 'idempotency-key': 'k-1' } }]], 422],
      [['/api/v1/generateTask/{model}', 'post', ['POST', GEN, { key: slow.key, body: { input: { prompt: 'x' } } }]], 200],
      [['/api/v1/generateTask/{model}', 'post', ['POST', GEN, { key: slow.key, body: { input: { prompt: 'x' } } }]], 429],
      [['/api/v1/statusTask/{model}', 'get', ['GET', '/api/v1/statusTask/veo-3-1']], 400],
      [['/api/v1/statusTask/{model}', 'get', ['GET', `/api/v1/statusTask/veo-3-1?taskId=${'0'.repeat(32)}`]], 404],
      [['/api/v1/account/ledger', 'get', ['GET', '/api/v1/account/ledger?limit=0x10']], 400],
      [['/api/v1/webhookDeliveries/redeliver', 'post', ['POST', '/api/v1/webhookDeliveries/redeliver', { body: [] }]], 400],
      [['/api/v1/events/{taskId}', 'get', ['GET', '/api/v1/events/nope']], 404],
    ];
    for (const [call, status] of calls) await expectDocumented(idle, call, status);
  });
});

describe("the routes' schemas refuse in the envelope, naming the field", () => {
  const cases: Array<[string, string, Parameters<TestService['api']>[2], number, Record<string, string>]> = [
    ['GET', '/api/v1/statusTask/veo-3-1', {}, 400, { field: 'taskId', error: 'taskId is required' }],
    ['GET', '/api/v1/statusTask/veo-3-1?taskId=', {}, 400, { field: 'taskId', error: 'taskId is required' }],
    ['GET', '/api/v1/statusTask/veo-3-1?taskId=a&taskId=b', {}, 400, { field: 'taskId', error: 'taskId must be given once' }],
    ['GET', '/api/v1/statusTask/veo-3-1?taskId=a&wait=61', {}, 400, { field: 'wait', error: 'wait must be a whole number of seconds from 0 to 60' }],
    ['GET', '/api/v1/statusTask/veo-3-1?taskId=a&wait=%205', {}, 400, { field: 'wait' }],
    ['GET', '/api/v1/statusTask/veo-9?taskId=a', {}, 404, { field: 'model', error: 'unknown model veo-9' }],
    ['GET', '/api/v1/account/ledger?limit=0x10', {}, 400, { field: 'limit', error: 'limit must be a whole number from 1 to 200 in decimal digits' }],
    ['GET', '/api/v1/account/ledger?limit=5&limit=6', {}, 400, { field: 'limit', error: 'limit must be given once' }],
    ['GET', '/api/v1/account/ledger?cursor=abc', {}, 400, { field: 'cursor', error: 'cursor is not one this API returned' }],
    ['GET', '/api/v1/webhookDeliveries', {}, 400, { field: 'taskId', error: 'taskId is required' }],
    ['GET', '/api/v1/webhookDeliveries?taskId=a&taskId=a', {}, 400, { field: 'taskId', error: 'taskId must be given once' }],
    ['POST', '/api/v1/webhookDeliveries/redeliver', { body: {} }, 400, { field: 'taskId', error: 'taskId is required' }],
    ['POST', '/api/v1/webhookDeliveries/redeliver', { body: { taskId: null } }, 400, { field: 'taskId', error: 'taskId is required' }],
    ['POST', '/api/v1/webhookDeliveries/redeliver', { body: { taskId: 7 } }, 400, { field: 'taskId', error: 'taskId must be a string' }],
    ['POST', '/api/v1/webhookDeliveries/redeliver', { body: 'x' }, 400, { field: 'body', error: 'body must be a JSON object' }],
    ['POST', '/api/v1/webhookDeliveries/redeliver', { rawBody: '', headers: { 'content-type': 'application/json' } }, 400, { field: 'body' }],
    ['POST', '/api/v1/webhookDeliveries/redeliver', { rawBody: '{}', headers: { 'content-type': 'text/plain' } }, 400, { field: 'Content-Type' }],
    ['POST', '/api/v1/webhookDeliveries/redeliver', { rawBody: '' }, 400, { field: 'Content-Type' }],
    ['GET', '/files/results/x.mp4?expires=1e3&sig=x', { key: null }, 403, { error: 'the file URL signature is missing or wrong' }],
    ['GET', '/files/results/x.mp4', { key: null }, 403, { error: 'the file URL signature is missing or wrong' }],
  ];
  it.each(cases)('%s %s', async (method, path, opts, status, data) => {
    const res = await idle.api(method, path, opts);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ code: status, data });
    expect(res.body.message).toMatch(/^(Invalid request|Not found|Forbidden)$/);
  });

  it('asks for the key first, and for its permission on the model before the query', async () => {
    expect((await idle.api('GET', '/api/v1/statusTask/veo-3-1', { key: null })).status).toBe(401);
    const narrow = await idle.newAccount('openapi-narrow', 10, { models: ['veo-3-1-extend'] });
    const res = await idle.api('GET', '/api/v1/statusTask/veo-3-1', { key: narrow.key });
    expect(res.body).toMatchObject({ code: 403, data: { error: 'this API key may not use model veo-3-1' } });
  });
});

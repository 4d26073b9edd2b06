import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.js';
import { BAD_GENERATE_BODIES } from './support/submit-bodies.js';
import { insertRow, keyOf } from './support/task-rows.js';

/** docs/contract.md §1-§2: every route, field rule, error status and envelope (no rendering needed). */
let t: TestService;
beforeAll(async () => {
  t = await startTestService({ LONGSHOT_INITIAL_CREDIT_USD: '1000' }, { workers: false });
});
afterAll(() => t?.close());

const GEN = '/api/v1/generateTask/veo-3-1';
const EXT = '/api/v1/generateTask/veo-3-1-extend';

function expectEnvelope(res: { status: number; body: any; headers: Headers }, status: number, message: string) {
  expect(res.status).toBe(status);
  expect(res.body.code).toBe(status);
  expect(res.body.message).toBe(message);
  expect(res.headers.get('x-request-id')).toBeTruthy();
}

describe('authentication', () => {
  const cases: Array<[string, string | null]> = [
    ['missing', null],
    ['not bearer', 'Basic abc'],
    ['malformed', 'Bearer nope'],
    ['unknown', `Bearer lsk_${'A'.repeat(43)}`],
  ];
  for (const [name, header] of cases) {
    it(`401 for a ${name} key on every route`, async () => {
      for (const [method, path] of [
        ['POST', GEN],
        ['GET', '/api/v1/statusTask/veo-3-1?taskId=x'],
        ['GET', '/api/v1/apikeys/current-balance'],
      ] as const) {
        const res = await t.api(method, path, {
          key: null,
          headers: header ? { authorization: header } : {},
          body: method === 'POST' ? { input: { prompt: 'x' } } : undefined,
        });
        expectEnvelope(res, 401, 'Invalid or missing API key');
        expect(res.body.data.error).toMatch(/Authorization/);
      }
    });
  }

  it('401 for a revoked key, 200 before', async () => {
    const { key } = await t.newAccount('revokee');
    expect((await t.api('GET', '/api/v1/apikeys/current-balance', { key })).status).toBe(200);
    const { revokeApiKey, findKeyByHash, hashApiKey } = await import('../src/db/accounts-repo.js');
    const row = await findKeyByHash(t.service.deps.db, hashApiKey(key));
    await revokeApiKey(t.service.deps.db, row!.id, Date.now());
    await new Promise((r) => setTimeout(r, 1100)); // the auth cache honours revocation within 1 s
    expectEnvelope(await t.api('GET', '/api/v1/apikeys/current-balance', { key }), 401, 'Invalid or missing API key');
  });

  it('echoes a sane X-Request-Id and makes one otherwise', async () => {
    const res = await t.api('GET', '/api/v1/apikeys/current-balance', { headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    const res2 = await t.api('GET', '/api/v1/apikeys/current-balance', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(res2.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('submit', () => {
  it('accepts the seed example and returns a 32-hex time-ordered task id', async () => {
    const a = await t.api('POST', GEN, { body: { request_type: 'async', input: { prompt: 'a calm sea', mode: 'fast' } } });
    expectEnvelope(a, 200, 'success');
    expect(a.body.data.taskId).toMatch(/^[0-9a-f]{32}$/);
    const b = await t.api('POST', GEN, { body: { input: { prompt: 'a calm sea' } } });
    expect(b.body.data.taskId > a.body.data.taskId).toBe(true);
  });

  it('ignores unknown top-level and input fields', async () => {
    const res = await t.api('POST', GEN, { body: { foo: 1, input: { prompt: 'ok', bar: true } } });
    expect(res.status).toBe(200);
  });

  for (const [name, body, field] of BAD_GENERATE_BODIES) {
    it(`400 names ${field}: ${name}`, async () => {
      const res = await t.api('POST', GEN, { body });
      expectEnvelope(res, 400, 'Invalid request');
      expect(res.body.data.field).toBe(field);
      expect(res.body.data.error).toContain(field === 'body' ? 'body' : field.replace(/\[\d+\]$/, ''));
    });
  }

  it('accepts boundary values', async () => {
    for (const input of [
      { prompt: '😀'.repeat(10000) },
      { prompt: 'x', seed: 0 },
      { prompt: 'x', seed: 4294967295 },
      { prompt: 'x', watermark: 'w'.repeat(64) },
      { prompt: 'x', aspect_ratio: 'auto' },
      { prompt: 'x', generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO', image_urls: ['http://example.com/a.png', 'https://example.com/b.jpg'] },
      { prompt: 'x', generationType: 'REFERENCE_2_VIDEO', image_urls: ['https://a.com/1', 'https://a.com/2', 'https://a.com/3'] },
    ]) {
      const res = await t.api('POST', GEN, { body: { input } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
  });

  it('400 for malformed JSON and for a wrong Content-Type', async () => {
    const a = await t.api('POST', GEN, { rawBody: '{"input":', headers: { 'content-type': 'application/json' } });
    expectEnvelope(a, 400, 'Invalid request');
    expect(a.body.data.field).toBe('body');
    const b = await t.api('POST', GEN, { rawBody: 'prompt=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expectEnvelope(b, 400, 'Invalid request');
    expect(b.body.data.field).toBe('Content-Type');
    const c = await t.api('POST', GEN, { rawBody: '', headers: { 'content-type': 'application/json' } });
    expectEnvelope(c, 400, 'Invalid request');
  });

  it('413 for a body over 1 MiB', async () => {
    const res = await t.api('POST', GEN, { body: { input: { prompt: 'x', pad: 'y'.repeat(1024 * 1024) } } });
    expectEnvelope(res, 413, 'Payload too large');
  });

  it('404 for an unknown model', async () => {
    expectEnvelope(await t.api('POST', '/api/v1/generateTask/veo-9', { body: { input: { prompt: 'x' } } }), 404, 'Not found');
    expectEnvelope(await t.api('GET', '/api/v1/statusTask/veo-9?taskId=0'), 404, 'Not found');
  });

  it('404 in the envelope for an unknown route', async () => {
    expectEnvelope(await t.api('GET', '/api/v1/nope'), 404, 'Not found');
  });
});

describe('extend source checks (TASKID_ERROR, nothing charged)', () => {
  it('refuses a missing, malformed, unknown, unfinished or foreign source', async () => {
    const before = (await t.api('GET', '/api/v1/apikeys/current-balance')).body.data;
    const pending = (await t.api('POST', GEN, { body: { input: { prompt: 'x' } } })).body.data.taskId;
    const mid = (await t.api('GET', '/api/v1/apikeys/current-balance')).body.data;
    const other = await t.newAccount('other-extend');
    const foreign = (await t.api('POST', GEN, { key: other.key, body: { input: { prompt: 'x' } } })).body.data.taskId;
    const missing = await t.api('POST', EXT, { body: { input: { prompt: 'more' } } });
    expectEnvelope(missing, 400, 'Invalid request');
    expect(missing.body.data.field).toBe('input.taskId');
    for (const taskId of ['task_id_from_previous_veo_3_1_generation', '0'.repeat(32), pending, foreign]) {
      const res = await t.api('POST', EXT, { body: { input: { taskId, prompt: 'more' } } });
      expectEnvelope(res, 400, 'Invalid request');
      expect(res.body.data.failCode).toBe('TASKID_ERROR');
      expect(res.body.data.field).toBe('input.taskId');
    }
    const after = (await t.api('GET', '/api/v1/apikeys/current-balance')).body.data;
    expect(mid).toBeCloseTo(before - 1.5, 6); // the pending quality task holds $1.50
    expect(after).toBe(mid);
  });

  it('validates the extend input like the generate input', async () => {
    const res = await t.api('POST', EXT, { body: { input: { taskId: '0'.repeat(32), prompt: 7 } } });
    expect(res.body.data.field).toBe('input.prompt');
  });
});

describe('status', () => {
  it('shows a pending task with taskId, state and createTime', async () => {
    const before = Date.now();
    const { taskId } = (await t.api('POST', GEN, { body: { input: { prompt: 'x' } } })).body.data;
    const res = await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`);
    expectEnvelope(res, 200, 'success');
    // APIXO's three fields, plus the one addition a pending task always has (docs/api.md, progress).
    expect(res.body.data).toEqual({ taskId, state: 'pending', createTime: expect.any(Number), queuePosition: expect.any(Number) });
    expect(res.body.data.createTime).toBeGreaterThanOrEqual(before - 5);
  });

  it('404 for another account’s task, a task under the other model, an unknown id', async () => {
    const { taskId } = (await t.api('POST', GEN, { body: { input: { prompt: 'x' } } })).body.data;
    const other = await t.newAccount('snoop');
    expectEnvelope(await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`, { key: other.key }), 404, 'Not found');
    expectEnvelope(await t.api('GET', `/api/v1/statusTask/veo-3-1-extend?taskId=${taskId}`), 404, 'Not found');
    expectEnvelope(await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${'f'.repeat(32)}`), 404, 'Not found');
    expectEnvelope(await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=not-an-id`), 404, 'Not found');
  });

  it('400 when taskId is missing or repeated', async () => {
    const a = await t.api('GET', '/api/v1/statusTask/veo-3-1');
    expectEnvelope(a, 400, 'Invalid request');
    expect(a.body.data.field).toBe('taskId');
    expectEnvelope(await t.api('GET', '/api/v1/statusTask/veo-3-1?taskId=a&taskId=b'), 400, 'Invalid request');
  });
});

describe('balance', () => {
  it('is a bare USD number: $10 sandbox credit minus holds', async () => {
    const { key } = await t.newAccount('fresh', 10);
    const res = await t.api('GET', '/api/v1/apikeys/current-balance', { key });
    expectEnvelope(res, 200, 'success');
    expect(res.body.data).toBe(10);
    await t.api('POST', GEN, { key, body: { input: { prompt: 'x', mode: 'fast' } } });
    expect((await t.api('GET', '/api/v1/apikeys/current-balance', { key })).body.data).toBe(9.8);
  });

  it('402 with required and available amounts when the balance is short', async () => {
    const { key } = await t.newAccount('poor', 1);
    const res = await t.api('POST', GEN, { key, body: { input: { prompt: 'x', mode: 'quality' } } });
    expectEnvelope(res, 402, 'Insufficient balance');
    expect(res.body.data).toMatchObject({ required: 1.5, available: 1, failCode: 'INSUFFICIENT_BALANCE' });
  });
});

describe('health', () => {
  it('answers 200 when ready, without a key', async () => {
    const res = await t.api('GET', '/healthz', { key: null });
    expectEnvelope(res, 200, 'success');
  });
});

describe('extension chains', () => {
  /** A finished source row at a given chain depth, written through the repository (no render needed). */
  async function finishedSource(chainDepth: number): Promise<string> {
    const now = Date.now();
    return insertRow(t, await keyOf(t, t.key), {
      model: chainDepth ? 'veo-3-1-extend' : 'veo-3-1',
      input: '{}',
      chain_depth: chainDepth,
      create_time: now,
      complete_time: now,
      duration_ms: 8000 + chainDepth * 7000,
    });
  }

  it('accepts the 20th extension of a chain and refuses the 21st with TASKID_ERROR', async () => {
    const nineteen = await finishedSource(19);
    expect((await t.api('POST', EXT, { body: { input: { taskId: nineteen, prompt: 'the 20th' } } })).status).toBe(200);
    const twenty = await finishedSource(20);
    const res = await t.api('POST', EXT, { body: { input: { taskId: twenty, prompt: 'the 21st' } } });
    expectEnvelope(res, 400, 'Invalid request');
    expect(res.body.data.failCode).toBe('TASKID_ERROR');
    expect(res.body.data.error).toMatch(/at most 20 times/);
  });
});

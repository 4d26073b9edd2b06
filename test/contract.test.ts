import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.js';

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

  const bad: Array<[string, unknown, string]> = [
    ['no input', {}, 'input'],
    ['input not an object', { input: 'x' }, 'input'],
    ['missing prompt', { input: {} }, 'input.prompt'],
    ['numeric prompt (no coercion)', { input: { prompt: 1 } }, 'input.prompt'],
    ['empty prompt', { input: { prompt: '' } }, 'input.prompt'],
    ['whitespace prompt', { input: { prompt: ' \n\t ' } }, 'input.prompt'],
    ['prompt over 10000 code points', { input: { prompt: '😀'.repeat(10001) } }, 'input.prompt'],
    ['bad mode', { input: { prompt: 'x', mode: 'turbo' } }, 'input.mode'],
    ['bad generationType', { input: { prompt: 'x', generationType: 'IMAGE' } }, 'input.generationType'],
    ['bad aspect', { input: { prompt: 'x', aspect_ratio: '4:3' } }, 'input.aspect_ratio'],
    ['images for text', { input: { prompt: 'x', image_urls: ['https://example.com/a.png'] } }, 'input.image_urls'],
    ['frames without images', { input: { prompt: 'x', generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO' } }, 'input.image_urls'],
    [
      'three frame images',
      { input: { prompt: 'x', generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO', image_urls: ['https://a.com/1', 'https://a.com/2', 'https://a.com/3'] } },
      'input.image_urls',
    ],
    [
      'four reference images',
      { input: { prompt: 'x', generationType: 'REFERENCE_2_VIDEO', image_urls: ['https://a.com/1', 'https://a.com/2', 'https://a.com/3', 'https://a.com/4'] } },
      'input.image_urls',
    ],
    [
      'reference in quality mode',
      { input: { prompt: 'x', generationType: 'REFERENCE_2_VIDEO', mode: 'quality', image_urls: ['https://a.com/1'] } },
      'input.mode',
    ],
    [
      'reference at 9:16',
      { input: { prompt: 'x', generationType: 'REFERENCE_2_VIDEO', aspect_ratio: '9:16', image_urls: ['https://a.com/1'] } },
      'input.aspect_ratio',
    ],
    ['image url not http', { input: { prompt: 'x', generationType: 'REFERENCE_2_VIDEO', image_urls: ['ftp://a.com/1'] } }, 'input.image_urls[0]'],
    ['image url not a string', { input: { prompt: 'x', generationType: 'REFERENCE_2_VIDEO', image_urls: [5] } }, 'input.image_urls[0]'],
    ['watermark too long', { input: { prompt: 'x', watermark: 'w'.repeat(65) } }, 'input.watermark'],
    ['watermark not a string', { input: { prompt: 'x', watermark: 5 } }, 'input.watermark'],
    ['seed as string', { input: { prompt: 'x', seed: '5' } }, 'input.seed'],
    ['seed negative', { input: { prompt: 'x', seed: -1 } }, 'input.seed'],
    ['seed too large', { input: { prompt: 'x', seed: 4294967296 } }, 'input.seed'],
    ['seed fractional', { input: { prompt: 'x', seed: 1.5 } }, 'input.seed'],
    ['enableTranslation not boolean', { input: { prompt: 'x', enableTranslation: 'yes' } }, 'input.enableTranslation'],
    ['bad request_type', { request_type: 'sync', input: { prompt: 'x' } }, 'request_type'],
    ['callback without url', { request_type: 'callback', input: { prompt: 'x' } }, 'callback_url'],
    ['bad provider', { provider: 'cheap', input: { prompt: 'x' } }, 'provider'],
    ['body is an array', [1, 2], 'body'],
  ];
  for (const [name, body, field] of bad) {
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
    expect(res.body.data).toEqual({ taskId, state: 'pending', createTime: expect.any(Number) });
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
    const { insertTask } = await import('../src/db/tasks-repo.js');
    const { newTaskId } = await import('../src/domain/ids.js');
    const { findKeyByHash, hashApiKey } = await import('../src/db/accounts-repo.js');
    const key = (await findKeyByHash(t.service.deps.db, hashApiKey(t.key)))!;
    const now = Date.now();
    const id = newTaskId(now);
    await t.service.deps.db.writeTx((trx) =>
      insertTask(trx, {
        id,
        account_id: key.account_id,
        api_key_id: key.id,
        model: chainDepth ? 'veo-3-1-extend' : 'veo-3-1',
        state: 'success',
        request_type: 'async',
        callback_url: null,
        provider: 'auto',
        input: '{}',
        source_task_id: null,
        chain_depth: chainDepth,
        price_micros: 0,
        create_time: now,
        start_time: now,
        complete_time: now,
        fail_code: null,
        fail_msg: null,
        attempts: 1,
        run_after: now,
        lease_token: null,
        lease_expires_at: null,
        engine: 'local',
        result_key: `results/${id}.mp4`,
        poster_key: `results/${id}.jpg`,
        result_size: 1,
        result_etag: '"1"',
        duration_ms: 8000 + chainDepth * 7000,
        width: 1280,
        height: 720,
        expires_at: now + 86_400_000,
        deleted_at: null,
      }),
    );
    return id;
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

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeySettings } from '../src/db/accounts-repo.js';
import { getBalance, ledgerTotals } from '../src/db/ledger-repo.js';
import { type ApiResponse, shiftClock, startTestService, type TestService, waitForTask } from './support/service.js';

/** docs/contract.md §4 and §7: permissions, rate and concurrency limits, idempotent submits, no overdraft. */
let t: TestService;
let time: { offset: number };
beforeAll(async () => {
  t = await startTestService({}, { workers: false });
  time = shiftClock(t);
});
afterAll(() => t?.close());

const GEN = '/api/v1/generateTask/veo-3-1';
const fast = { input: { prompt: 'a calm sea', mode: 'fast' } };

const keyWith = (name: string, settings: Partial<KeySettings>, creditUsd = 100) => t.newAccount(name, creditUsd, settings);

describe('rate limits', () => {
  it('counts submits per minute with IETF RateLimit headers, answers 429 with Retry-After, resets', async () => {
    time.offset = 0;
    const { key } = await keyWith('rpm', { submitRpm: 3 });
    const codes: number[] = [];
    let last: ApiResponse | undefined;
    for (let i = 0; i < 4; i++) {
      last = await t.api('POST', GEN, { key, body: fast });
      codes.push(last.status);
      if (i === 0) {
        expect(last.headers.get('ratelimit-policy')).toBe('"submit";q=3;w=60');
        expect(last.headers.get('ratelimit')).toMatch(/^"submit";r=2;t=\d+$/);
      }
    }
    expect(codes).toEqual([200, 200, 200, 429]);
    expect(last!.body).toMatchObject({ code: 429, message: 'Rate limit exceeded' });
    const retryAfter = Number(last!.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(last!.body.data.retryAfter).toBe(retryAfter);
    expect(last!.headers.get('ratelimit')).toMatch(/^"submit";r=0;t=\d+$/);
    // Status reads are a separate budget.
    expect((await t.api('GET', '/api/v1/apikeys/current-balance', { key })).status).toBe(200);
    time.offset = 61_000; // the next window
    expect((await t.api('POST', GEN, { key, body: fast })).status).toBe(200);
    time.offset = 0;
  });

  it('limits status reads separately', async () => {
    const { key } = await keyWith('reads', { statusRpm: 2 });
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await t.api('GET', '/api/v1/apikeys/current-balance', { key })).status);
    expect(codes).toEqual([200, 200, 429]);
  });

  it('caps unfinished tasks per key with 429', async () => {
    const { key } = await keyWith('conc', { maxUnfinished: 2 });
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await t.api('POST', GEN, { key, body: fast })).status);
    expect(codes).toEqual([200, 200, 429]);
  });

  it('0 means unlimited', async () => {
    const { key } = await keyWith('free', { submitRpm: 0, maxUnfinished: 0 });
    const res = await t.api('POST', GEN, { key, body: fast });
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit')).toBeNull();
  });
});

describe('permissions', () => {
  it('403 for a model or strategy the key may not use; the default strategy applies', async () => {
    const { key } = await keyWith('perm', { models: ['veo-3-1'], strategies: ['value'], defaultStrategy: 'value' });
    const ext = await t.api('POST', '/api/v1/generateTask/veo-3-1-extend', { key, body: { input: { taskId: '0'.repeat(32), prompt: 'x' } } });
    expect(ext.status).toBe(403);
    expect(ext.body.message).toBe('Forbidden');
    expect((await t.api('GET', `/api/v1/statusTask/veo-3-1-extend?taskId=${'0'.repeat(32)}`, { key })).status).toBe(403);
    const official = await t.api('POST', GEN, { key, body: { provider: 'official', ...fast } });
    expect(official.status).toBe(403);
    expect(official.body.data.field).toBe('provider');
    const ok = await t.api('POST', GEN, { key, body: fast });
    expect(ok.status).toBe(200);
    const row = await t.service.deps.db.kysely.selectFrom('tasks').select('provider').where('id', '=', ok.body.data.taskId).executeTakeFirstOrThrow();
    expect(row.provider).toBe('value');
  });
});

describe('idempotent submits', () => {
  it('replays the first response for the same key and body, 422 for another body', async () => {
    const { key } = await keyWith('idem', {});
    const headers = { 'idempotency-key': 'order-1' };
    const a = await t.api('POST', GEN, { key, body: fast, headers });
    const b = await t.api('POST', GEN, { key, body: { input: { mode: 'fast', prompt: 'a calm sea' } }, headers }); // same body, other key order
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(b.body.data.taskId).toBe(a.body.data.taskId);
    expect(a.headers.get('idempotent-replayed')).toBeNull();
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    const c = await t.api('POST', GEN, { key, body: { input: { prompt: 'another', mode: 'fast' } }, headers });
    expect(c.status).toBe(422);
    expect(c.body.data.field).toBe('Idempotency-Key');
    const bad = await t.api('POST', GEN, { key, body: fast, headers: { 'idempotency-key': 'has space' } });
    expect(bad.status).toBe(400);
    expect(bad.body.data.field).toBe('Idempotency-Key');
  });

  it('is scoped per API key', async () => {
    const one = await keyWith('idem-a', {});
    const two = await keyWith('idem-b', {});
    const headers = { 'idempotency-key': 'same' };
    const a = await t.api('POST', GEN, { key: one.key, body: fast, headers });
    const b = await t.api('POST', GEN, { key: two.key, body: fast, headers });
    expect(a.body.data.taskId).not.toBe(b.body.data.taskId);
  });

  it('50 parallel submits with one key make one task and one hold', async () => {
    const { key, accountId } = await keyWith('idem-race', { submitRpm: 0, maxUnfinished: 0 }, 10);
    const results = await Promise.all(Array.from({ length: 50 }, () => t.api('POST', GEN, { key, body: fast, headers: { 'idempotency-key': 'race-1' } })));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(new Set(results.map((r) => r.body.data.taskId)).size).toBe(1);
    const holds = await t.service.deps.db.kysely
      .selectFrom('ledger_entries')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('kind', '=', 'hold')
      .execute();
    expect(holds).toHaveLength(1);
    expect((await getBalance(t.service.deps.db, accountId))!.availableMicros).toBe(9_800_000);
  });
});

describe('money', () => {
  it('never overdraws: 10×K concurrent submits against a balance for K tasks', async () => {
    const { key, accountId } = await keyWith('exact', { submitRpm: 0, maxUnfinished: 0 }, 1); // $1.00 = 5 × $0.20
    const results = await Promise.all(Array.from({ length: 50 }, () => t.api('POST', GEN, { key, body: fast })));
    const codes = results.map((r) => r.status);
    expect(codes.filter((c) => c === 200)).toHaveLength(5);
    expect(codes.filter((c) => c === 402)).toHaveLength(45);
    const balance = (await getBalance(t.service.deps.db, accountId))!;
    expect(balance.availableMicros).toBe(0);
    const { availableMicros: _a, ...totals } = balance;
    expect(await ledgerTotals(t.service.deps.db, accountId)).toEqual(totals);
  });
});

describe('content policy', () => {
  it('fails a refused prompt with CONTENT_VIOLATION before rendering and releases the hold', async () => {
    const w = await startTestService({}, { workers: true });
    try {
      const before = (await w.api('GET', '/api/v1/apikeys/current-balance')).body.data;
      const { taskId } = (await w.api('POST', GEN, { body: { input: { prompt: 'a nude portrait', mode: 'quality' } } })).body.data;
      const data = await waitForTask(w, 'veo-3-1', taskId);
      expect(data.state).toBe('failed');
      expect(data.failCode).toBe('CONTENT_VIOLATION');
      expect(data.failMsg).toMatch(/input\.prompt/);
      expect((await w.api('GET', '/api/v1/apikeys/current-balance')).body.data).toBe(before);
      const row = await w.service.deps.db.kysely.selectFrom('tasks').select('engine').where('id', '=', taskId).executeTakeFirstOrThrow();
      expect(row.engine).toBeNull(); // no engine ran
    } finally {
      await w.close();
    }
  });
});

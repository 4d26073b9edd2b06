import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, dayString } from '../src/domain/utc-days.js';
import { startTestService, type TestService } from './support/service.js';
import { finish, freezeClock, insertRow, keyOf, submit } from './support/task-rows.js';

/** /admin/v1/tasks and /admin/v1/usage (docs/api.md, admin API): the operator's view across accounts. */
const ADMIN = `lsa_${'t'.repeat(40)}`;
let t: TestService;
const admin = (path: string, token: string | null = ADMIN) => t.api('GET', `/admin/v1${path}`, { key: token });

let alice: { accountId: string; key: string; keyId: string };
let bob: { accountId: string; key: string; keyId: string };
/** Alice's extension chain root → ext1 → ext2, and a callback task with its webhook row. */
let root: string;
let ext1: string;
let ext2: string;
let branch: string;
let hooked: string;
let old: string;

beforeAll(async () => {
  t = await startTestService({ LONGSHOT_ADMIN_TOKEN: ADMIN, LONGSHOT_ALLOW_PRIVATE_CALLBACKS: 'true' }, { workers: false });
  const a = await t.newAccount('alice', 50);
  const b = await t.newAccount('bob', 50);
  alice = { ...a, keyId: (await keyOf(t, a.key)).keyId };
  bob = { ...b, keyId: (await keyOf(t, b.key)).keyId };
  // Made 40 days ago, outside the default ranges.
  old = await insertRow(t, alice, { create_time: Date.now() - 40 * DAY_MS, engine: 'gemini' });
  root = await submit(t, alice.key, 'veo-3-1', { prompt: 'root', mode: 'fast' });
  await finish(t, root, { durationMs: 8000 });
  ext1 = await submit(t, alice.key, 'veo-3-1-extend', { taskId: root, prompt: 'ext one' });
  await finish(t, ext1, { durationMs: 15_000, engine: 'gemini' });
  // The upstream's job id and video handle, as an upstream engine saves them.
  await t.service.deps.db.kysely
    .insertInto('task_upstream')
    .values({ task_id: ext1, engine: 'gemini', ref: 'models/veo/operations/op-123', video: 'files/vid-456', updated_at: Date.now() })
    .execute();
  branch = await submit(t, alice.key, 'veo-3-1-extend', { taskId: root, prompt: 'a branch' });
  await finish(t, branch, { failCode: 'CONTENT_VIOLATION' });
  hooked = await submit(t, bob.key, 'veo-3-1', { prompt: 'hook', mode: 'fast' }, { request_type: 'callback', callback_url: 'http://127.0.0.1:9/hook' });
  await finish(t, hooked, { durationMs: 8000 });
  ext2 = await submit(t, alice.key, 'veo-3-1-extend', { taskId: ext1, prompt: 'ext two' });
});
afterAll(() => t?.close());

const ids = (res: any): string[] => res.body.data.tasks.map((x: any) => x.taskId);

describe('admin security', () => {
  it.each(['/tasks', `/tasks/${'0'.repeat(32)}`, '/usage'])('%s answers 401 in the envelope without the admin token', async (path) => {
    for (const token of [null, 'lsa_wrong-token-of-the-right-shape-xxxxxxxx', ADMIN.slice(0, -1), () => alice.key] as const) {
      const res = await admin(path, typeof token === 'function' ? token() : token);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ code: 401, message: 'Invalid or missing API key', data: { error: expect.stringContaining('admin token') } });
    }
  });

  it('does not open the admin token to client routes', async () => {
    expect((await t.api('GET', '/api/v1/tasks', { key: ADMIN })).status).toBe(401);
  });
});

describe('GET /admin/v1/tasks', () => {
  it('lists every account, newest first, with whose each task is', async () => {
    const res = await admin('/tasks');
    expect(res.status).toBe(200);
    expect(ids(res)).toEqual([ext2, hooked, branch, ext1, root, old]);
    const item = res.body.data.tasks.find((x: any) => x.taskId === hooked);
    expect(item).toMatchObject({
      model: 'veo-3-1',
      state: 'success',
      accountId: bob.accountId,
      accountName: 'bob',
      keyId: bob.keyId,
      provider: 'auto',
      engine: 'local',
      attempts: 1,
    });
    expect(JSON.parse(item.resultJson).resultUrls[0]).toContain(`/files/results/${hooked}.mp4?expires=`);
  });

  it('filters by account (name or id), key, state, model, engine and dates', async () => {
    expect(ids(await admin('/tasks?account=bob'))).toEqual([hooked]);
    expect(ids(await admin(`/tasks?account=${alice.accountId}`))).toEqual([ext2, branch, ext1, root, old]);
    expect(ids(await admin(`/tasks?key=${bob.keyId}`))).toEqual([hooked]);
    expect(ids(await admin('/tasks?state=failed'))).toEqual([branch]);
    expect(ids(await admin('/tasks?state=pending&model=veo-3-1-extend'))).toEqual([ext2]);
    expect(ids(await admin('/tasks?engine=gemini'))).toEqual([ext1, old]);
    const today = dayString(Math.floor(Date.now() / DAY_MS));
    const fortyAgo = dayString(Math.floor((Date.now() - 40 * DAY_MS) / DAY_MS));
    expect(ids(await admin(`/tasks?from=${today}&account=alice`))).toEqual([ext2, branch, ext1, root]);
    expect(ids(await admin(`/tasks?from=${fortyAgo}&to=${fortyAgo}`))).toEqual([old]);
  });

  it('pages with a cursor', async () => {
    const p1 = await admin('/tasks?limit=4');
    expect(ids(p1)).toEqual([ext2, hooked, branch, ext1]);
    const p2 = await admin(`/tasks?limit=4&cursor=${p1.body.data.nextCursor}`);
    expect(ids(p2)).toEqual([root, old]);
    expect(p2.body.data.nextCursor).toBeNull();
  });

  it.each([
    ['account=nobody', 404, 'account'],
    ['key=key_0000000000000000', 404, 'key'],
    ['state=done', 400, 'state'],
    ['model=veo-2', 400, 'model'],
    ['limit=101', 400, 'limit'],
    ['cursor=x', 400, 'cursor'],
    ['from=2025-13-01', 400, 'from'],
    ['to=tomorrow', 400, 'to'],
    ['from=2025-03-02&to=2025-03-01', 400, 'from'],
    ['engine=a&engine=b', 400, 'engine'],
  ])('answers ?%s with %i naming %s', async (query, status, field) => {
    const res = await admin(`/tasks?${query}`);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ code: status, data: { field } });
  });
});

describe('GET /admin/v1/tasks/{taskId}', () => {
  it('shows one task: status view, owner, engine, upstream job, times, ledger and lineage', async () => {
    const thaw = freezeClock(t);
    try {
      const res = await admin(`/tasks/${ext1}`);
      expect(res.status).toBe(200);
      const d = res.body.data;
      // The status view is what the task's owner sees.
      const own = await t.api('GET', `/api/v1/statusTask/veo-3-1-extend?taskId=${ext1}`, { key: alice.key });
      expect(d.status).toEqual(own.body.data);
      expect(d).toMatchObject({
        model: 'veo-3-1-extend',
        account: { id: alice.accountId, name: 'alice' },
        keyId: alice.keyId,
        provider: 'auto',
        engine: 'gemini',
        requestType: 'async',
        callbackUrl: null,
        input: { taskId: root, prompt: 'ext one', mode: 'fast' },
        priceUsd: 0.2,
        attempts: 1,
        result: { durationMs: 15_000, width: 1280, height: 720 },
        upstream: { engine: 'gemini', jobId: 'models/veo/operations/op-123', video: 'files/vid-456' },
        webhooks: [],
      });
      expect(d.times.createTime).toBe(own.body.data.createTime);
      expect(d.times.completeTime).toBe(own.body.data.completeTime);
      expect(d.times.startTime).toBeGreaterThanOrEqual(d.times.createTime);
      expect(d.ledger.map((e: any) => [e.kind, e.amount])).toEqual([
        ['hold', 0.2],
        ['capture', 0.2],
      ]);
      // Its source chain up to the root, and its direct extensions (not the branch off the root).
      expect(d.lineage).toEqual({
        chainDepth: 1,
        sources: [{ taskId: root, model: 'veo-3-1', state: 'success', chainDepth: 0, createTime: expect.any(Number) }],
        rootTaskId: root,
        extensions: [{ taskId: ext2, model: 'veo-3-1-extend', state: 'pending', chainDepth: 2, createTime: expect.any(Number) }],
      });
    } finally {
      thaw();
    }
  });

  it('walks a longer chain to its root and lists every branch', async () => {
    const top = (await admin(`/tasks/${ext2}`)).body.data;
    expect(top.lineage.sources.map((s: any) => s.taskId)).toEqual([ext1, root]);
    expect(top.lineage.rootTaskId).toBe(root);
    expect(top.lineage.extensions).toEqual([]);
    expect(top.ledger.map((e: any) => e.kind)).toEqual(['hold']);
    const base = (await admin(`/tasks/${root}`)).body.data;
    expect(base.lineage).toMatchObject({ chainDepth: 0, sources: [], rootTaskId: root });
    expect(base.lineage.extensions.map((s: any) => [s.taskId, s.state])).toEqual([
      [ext1, 'success'],
      [branch, 'failed'],
    ]);
    // A failure released its hold: it cost nothing.
    const failed = (await admin(`/tasks/${branch}`)).body.data;
    expect(failed.ledger.map((e: any) => [e.kind, e.amount])).toEqual([
      ['hold', 0.2],
      ['release', 0.2],
    ]);
    expect(failed.status).toMatchObject({ state: 'failed', failCode: 'CONTENT_VIOLATION' });
  });

  it("shows a callback task's webhook deliveries", async () => {
    const d = (await admin(`/tasks/${hooked}`)).body.data;
    expect(d).toMatchObject({ requestType: 'callback', callbackUrl: 'http://127.0.0.1:9/hook', account: { name: 'bob' } });
    expect(d.webhooks).toEqual([expect.objectContaining({ webhookId: `msg_${hooked}`, trigger: 'settle', state: 'pending', attempts: [] })]);
  });

  it('answers an unknown or malformed id with a 404', async () => {
    for (const id of ['0'.repeat(32), 'not-a-task']) {
      const res = await admin(`/tasks/${id}`);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ code: 404, message: 'Not found', data: { field: 'taskId' } });
    }
  });
});

describe('GET /admin/v1/usage', () => {
  it('reports per day × account × model × engine', async () => {
    const today = dayString(Math.floor(Date.now() / DAY_MS));
    const res = await admin(`/usage?from=${today}&to=${today}`);
    expect(res.status).toBe(200);
    const rows = res.body.data.rows.map((r: any) => [r.accountName, r.model, r.engine, r.tasks, r.succeeded, r.failed, r.videoSeconds, r.spentUsd]);
    expect(rows).toEqual([
      ['alice', 'veo-3-1', 'local', 1, 1, 0, 8, 0.2],
      ['alice', 'veo-3-1-extend', null, 1, 0, 0, 0, 0],
      ['alice', 'veo-3-1-extend', 'gemini', 1, 1, 0, 7, 0.2],
      ['alice', 'veo-3-1-extend', 'local', 1, 0, 1, 0, 0],
      ['bob', 'veo-3-1', 'local', 1, 1, 0, 8, 0.2],
    ]);
    expect(res.body.data.rows.every((r: any) => r.date === today)).toBe(true);
    expect(res.body.data.totals).toEqual({ tasks: 5, succeeded: 3, failed: 1, videoSeconds: 23, spentUsd: 0.6 });
    const bobOnly = await admin(`/usage?from=${today}&to=${today}&account=bob`);
    expect(bobOnly.body.data.rows.map((r: any) => r.accountId)).toEqual([bob.accountId]);
    // The default range is the last 30 days: the 40-day-old task is outside it.
    expect((await admin('/usage')).body.data.totals.tasks).toBe(5);
  });

  it.each([
    ['account=nobody', 404, 'account'],
    ['from=2025-02-29', 400, 'from'],
    ['from=2020-01-01&to=2025-01-01', 400, 'from'],
    ['to=x', 400, 'to'],
  ])('answers ?%s with %i naming %s', async (query, status, field) => {
    const res = await admin(`/usage?${query}`);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ code: status, data: { field } });
  });
});

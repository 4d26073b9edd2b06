import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTasks } from '../src/cli/tasks.js';
import { startTestService, type TestService } from './support/service.js';
import { freezeClock, insertRow, keyOf, submit } from './support/task-rows.js';

/** GET /api/v1/tasks (docs/api.md, task lists): workers off, so submitted tasks stay pending. */
let t: TestService;
beforeAll(async () => {
  t = await startTestService({}, { workers: false });
});
afterAll(() => t?.close());

const fast = (prompt: string) => ({ prompt, mode: 'fast' });

async function page(key: string, query = ''): Promise<{ ids: string[]; nextCursor: string | null; body: any }> {
  const res = await t.api('GET', `/api/v1/tasks${query}`, { key });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body).toMatchObject({ code: 200, message: 'success' });
  return { ids: res.body.data.tasks.map((x: any) => x.taskId), nextCursor: res.body.data.nextCursor, body: res.body };
}

describe('GET /api/v1/tasks', () => {
  it('pages newest first and covers every task exactly once while new ones arrive', async () => {
    const { key } = await t.newAccount('pager', 100);
    const first: string[] = [];
    for (let i = 0; i < 7; i++) first.push(await submit(t, key, 'veo-3-1', fast(`task ${i}`)));

    const p1 = await page(key, '?limit=3');
    expect(p1.ids).toEqual(first.slice(4).reverse());
    expect(p1.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
    // New tasks between pages land before the first page's start, never on a later page.
    const later = [await submit(t, key, 'veo-3-1', fast('new a')), await submit(t, key, 'veo-3-1', fast('new b'))];
    const p2 = await page(key, `?limit=3&cursor=${p1.nextCursor}`);
    expect(p2.ids).toEqual(first.slice(1, 4).reverse());
    later.push(await submit(t, key, 'veo-3-1', fast('new c')));
    const p3 = await page(key, `?limit=3&cursor=${p2.nextCursor}`);
    expect(p3.ids).toEqual([first[0]]);
    expect(p3.nextCursor).toBeNull();

    const seen = [...p1.ids, ...p2.ids, ...p3.ids];
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.sort()).toEqual([...first].sort());
    // A fresh first page starts with the newest; a page that ends exactly at the last task says so.
    const all = await page(key, '?limit=10');
    expect(all.ids).toEqual([...first, ...later].reverse());
    expect(all.nextCursor).toBeNull();
    expect((await page(key)).ids).toHaveLength(10); // default limit 20 covers all ten
  });

  it("lists each task as statusTask's data (signed result URLs) plus its model", async () => {
    const { key } = await t.newAccount('views', 10);
    const owner = await keyOf(t, key);
    const done = await insertRow(t, owner);
    const failed = await insertRow(t, owner, { state: 'failed', complete_time: Date.now(), fail_code: 'CONTENT_VIOLATION', fail_msg: 'input.prompt: no' });
    const pending = await submit(t, key, 'veo-3-1', fast('pending one'));
    const thaw = freezeClock(t);
    try {
      const listed = (await page(key)).body.data.tasks;
      expect(listed.map((x: any) => x.taskId)).toEqual([pending, failed, done]);
      for (const item of listed) {
        const status = await t.api('GET', `/api/v1/statusTask/${item.model}?taskId=${item.taskId}`, { key });
        // The list leaves out what statusTask computes per read (docs/api.md, progress).
        const { queuePosition: _q, etaSeconds: _e, ...stored } = status.body.data;
        expect(item).toEqual({ ...stored, model: 'veo-3-1' });
      }
      expect(JSON.parse(listed[2].resultJson).resultUrls[0]).toMatch(new RegExp(`^${t.url}/files/results/${done}\\.mp4\\?expires=\\d+&sig=`));
      expect(listed[1]).toMatchObject({ state: 'failed', failCode: 'CONTENT_VIOLATION', failMsg: 'input.prompt: no' });
    } finally {
      thaw();
    }
  });

  it('filters by state and model', async () => {
    const { key } = await t.newAccount('filters', 10);
    const owner = await keyOf(t, key);
    const gen = await insertRow(t, owner);
    const ext = await insertRow(t, owner, { model: 'veo-3-1-extend', source_task_id: gen, chain_depth: 1 });
    const failed = await insertRow(t, owner, { state: 'failed', fail_code: 'TIMEOUT', complete_time: Date.now() });
    const running = await insertRow(t, owner, { state: 'processing' });
    const waiting = await submit(t, key, 'veo-3-1', fast('waiting'));
    expect((await page(key, '?state=success')).ids).toEqual([ext, gen]);
    expect((await page(key, '?state=failed')).ids).toEqual([failed]);
    expect((await page(key, '?state=processing')).ids).toEqual([running]);
    expect((await page(key, '?state=pending')).ids).toEqual([waiting]);
    expect((await page(key, '?model=veo-3-1-extend')).ids).toEqual([ext]);
    expect((await page(key, '?model=veo-3-1&state=success')).ids).toEqual([gen]);
    // Empty parameters are absent ones (a form's "any").
    expect((await page(key, '?state=&model=')).ids).toHaveLength(5);
    // Filters and the cursor combine: the next page of successes is still only successes.
    const p1 = await page(key, '?state=success&limit=1');
    expect((await page(key, `?state=success&limit=1&cursor=${p1.nextCursor}`)).ids).toEqual([gen]);
  });

  it("never shows another account's tasks, not even through its cursors", async () => {
    const a = await t.newAccount('tenant-a', 10);
    const b = await t.newAccount('tenant-b', 10);
    const aIds = [await submit(t, a.key, 'veo-3-1', fast('a1')), await submit(t, a.key, 'veo-3-1', fast('a2'))];
    const bIds = [await submit(t, b.key, 'veo-3-1', fast('b1'))];
    expect((await page(a.key)).ids).toEqual([...aIds].reverse());
    expect((await page(b.key)).ids).toEqual(bIds);
    // A cursor made from A's page, used by B, still lists only B's tasks.
    const aCursor = (await page(a.key, '?limit=1')).nextCursor;
    const viaCursor = await page(b.key, `?cursor=${aCursor}`);
    expect(viaCursor.ids.some((id) => aIds.includes(id))).toBe(false);
  });

  it('shows a restricted key exactly the tasks it may read, as statusTask decides', async () => {
    const { key, accountId } = await t.newAccount('restricted', 10);
    const owner = await keyOf(t, key);
    const gen = await insertRow(t, owner, { provider: 'auto' });
    const genValue = await insertRow(t, owner, { provider: 'value' });
    const ext = await insertRow(t, owner, { model: 'veo-3-1-extend', source_task_id: gen, chain_depth: 1 });
    const pendingOfficial = await submit(t, key, 'veo-3-1', fast('official one'), { provider: 'official' });
    const all = [gen, genValue, ext, pendingOfficial];
    const { createApiKey } = await import('../src/db/accounts-repo.js');
    const db = t.service.deps.db;
    const onlyGenerate = (await createApiKey(db, accountId, 'generate only', Date.now(), { models: ['veo-3-1'] })).key;
    const onlyValue = (await createApiKey(db, accountId, 'value only', Date.now(), { strategies: ['value'] })).key;
    const nothing = (await createApiKey(db, accountId, 'no models', Date.now(), { models: [] })).key;

    for (const [k, expected] of [
      [key, [pendingOfficial, ext, genValue, gen]],
      [onlyGenerate, [pendingOfficial, genValue, gen]],
      [onlyValue, [genValue]],
      [nothing, []],
    ] as const) {
      const listed = (await page(k)).ids;
      expect(listed).toEqual(expected);
      // One rule: a listed task is one statusTask answers for this key, an unlisted one a 403.
      for (const id of all) {
        const model = id === ext ? 'veo-3-1-extend' : 'veo-3-1';
        const status = await t.api('GET', `/api/v1/statusTask/${model}?taskId=${id}`, { key: k });
        expect(status.status, `${id} for a key that lists ${listed.join(',')}`).toBe(listed.includes(id) ? 200 : 403);
      }
    }
    // Asking for a model the key may not use is refused, as statusTask refuses it.
    const refused = await t.api('GET', '/api/v1/tasks?model=veo-3-1-extend', { key: onlyGenerate });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 403, message: 'Forbidden', data: { field: 'model' } });
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=0x10', 'limit'],
    ['limit=%205', 'limit'],
    ['limit=1e1', 'limit'],
    ['limit=-1', 'limit'],
    ['limit=ten', 'limit'],
    ['limit=5&limit=6', 'limit'],
    ['state=done', 'state'],
    ['state=pending&state=failed', 'state'],
    ['model=veo-2', 'model'],
    ['cursor=nonsense', 'cursor'],
    ['cursor=0193e2c4d5e6f7a8b9c0d1e2f3a4b5c6', 'cursor'],
    ['cursor=AZPixNXm96i5wNHi86S1xg%3D%3D', 'cursor'],
  ])('answers ?%s with a 400 naming %s', async (query, field) => {
    const res = await t.api('GET', `/api/v1/tasks?${query}`);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 400, message: 'Invalid request', data: { field } });
    expect(res.body.data.error).toContain(field);
  });

  it('takes limits 1 and 100', async () => {
    expect((await t.api('GET', '/api/v1/tasks?limit=1')).status).toBe(200);
    expect((await t.api('GET', '/api/v1/tasks?limit=100')).status).toBe(200);
  });

  it('needs a key and counts against its status budget', async () => {
    expect((await t.api('GET', '/api/v1/tasks', { key: null })).status).toBe(401);
    const { key } = await t.newAccount('budget', 10, { statusRpm: 2 });
    const first = await t.api('GET', '/api/v1/tasks', { key });
    expect(first.headers.get('ratelimit-policy')).toBe('"status";q=2;w=60');
    expect((await t.api('GET', '/api/v1/tasks', { key })).status).toBe(200);
    const over = await t.api('GET', '/api/v1/tasks', { key });
    expect(over.status).toBe(429);
    expect(over.body.data.retryAfter).toBeGreaterThan(0);
  });
});

describe('longshot tasks list', () => {
  async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const database = t.config.databaseUrl ? { DATABASE_URL: t.config.databaseUrl } : {};
    const io = {
      env: { LONGSHOT_DATA_DIR: t.dataDir, LONGSHOT_LOG_LEVEL: 'error', ...database },
      out: (s: string) => (out += s),
      err: (s: string) => (err += s),
    };
    const code = await runTasks(args, io);
    return { code, out, err };
  }

  it("lists an account's tasks with the same filters and cursor as the API", async () => {
    const { key } = await t.newAccount('cli-list', 10);
    const ids = [await submit(t, key, 'veo-3-1', fast('c1')), await submit(t, key, 'veo-3-1', fast('c2')), await submit(t, key, 'veo-3-1', fast('c3'))];
    const json = JSON.parse((await cli('list', '--account', 'cli-list', '--limit', '2', '--json')).out);
    expect(json.tasks.map((x: any) => x.taskId)).toEqual([ids[2], ids[1]]);
    expect(json.tasks[0]).toMatchObject({ model: 'veo-3-1', state: 'pending', account: 'cli-list', engine: null });
    // The CLI's cursor is the API's.
    expect((await page(key, `?cursor=${json.nextCursor}`)).ids).toEqual([ids[0]]);
    const text = await cli('list', '--account', 'cli-list', '--limit', '2', '--state', 'pending');
    expect(text.out.trim().split('\n')).toHaveLength(2);
    expect(text.out).toContain(ids[2]);
    expect(text.err).toBe(`more: add --cursor ${json.nextCursor}\n`);
    expect((await cli('list', '--account', 'cli-list', '--cursor', json.nextCursor)).out).toContain(ids[0]);
    expect((await cli('list', '--account', 'cli-list', '--state', 'success')).out).toBe('');
  });

  it('refuses bad flags with one line naming the flag', async () => {
    await expect(cli('list', '--state', 'done')).rejects.toThrow(/^--state must be one of/);
    await expect(cli('list', '--model', 'veo-2')).rejects.toThrow(/^--model must be one of/);
    await expect(cli('list', '--limit', '0x10')).rejects.toThrow(/^--limit must be a whole number from 1 to 1000/);
    await expect(cli('list', '--cursor', 'x')).rejects.toThrow(/^--cursor is not one/);
    await expect(cli('list', '--account', 'nobody')).rejects.toThrow(/no account named nobody/);
  });
});

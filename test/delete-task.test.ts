import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LongshotClient } from '../src/client/index.js';
import { claimNextTask } from '../src/db/claim-task.js';
import { getTaskById } from '../src/db/tasks-repo.js';
import { settleFailure } from '../src/services/settle-task.js';
import { removeDataDir, startTestService, type TestService, waitForTask } from './support/service.js';

/**
 * DELETE /api/v1/tasks/{taskId} over real HTTP: a finished task's files leave the blob store
 * (the fs store, or S3 with LONGSHOT_TEST_STORAGE=s3; SQLite, or PostgreSQL with
 * LONGSHOT_TEST_DATABASE=postgres), its URLs answer 410, it can no longer be extended, the
 * ledger stays as it was; unfinished tasks are refused with 409, other accounts' with 404.
 */
let t: TestService;
let dataDir: string;
let G = '';
let urls: { video: string; poster: string };
let keys: { video: string; poster: string };
/** The default account's key, made at the first start (a restart prints none). */
let key = '';
/** t.api with the default account's key unless another is given. */
const api = (method: string, path: string, o: { key?: string | null; body?: unknown } = {}) => t.api(method, path, { key, ...o });

const del = (taskId: string, other?: string) => api('DELETE', `/api/v1/tasks/${taskId}`, other ? { key: other } : {});
const ledger = async () => (await api('GET', '/api/v1/account/ledger?limit=200')).body.data.entries;
const balance = async () => (await api('GET', '/api/v1/apikeys/current-balance')).body.data;

beforeAll(async () => {
  // G renders with workers; the service is then reopened without them, so the extension below
  // stays pending until the test claims it (processing) by hand.
  dataDir = await mkdtemp(join(tmpdir(), 'longshot-delete-'));
  const first = await startTestService({}, { dataDir });
  key = first.key;
  const gen = await first.api('POST', '/api/v1/generateTask/veo-3-1', { body: { input: { prompt: 'a lantern in the snow', mode: 'fast', seed: 5 } } });
  G = gen.body.data.taskId;
  expect((await waitForTask(first, 'veo-3-1', G)).state).toBe('success');
  await first.close();
  t = await startTestService({}, { dataDir, workers: false });
  // Signed by this service (its port): the URLs a client holds when it deletes.
  const done = (await api('GET', `/api/v1/statusTask/veo-3-1?taskId=${G}`)).body.data;
  urls = { video: JSON.parse(done.resultJson).resultUrls[0], poster: done.posterUrl };
  const row = (await getTaskById(t.service.deps.db, G))!;
  keys = { video: row.result_key!, poster: row.poster_key! };
}, 150_000);
afterAll(async () => {
  await t?.close();
  if (dataDir) await removeDataDir(dataDir);
});

describe('deleting a task', () => {
  let X = '';

  it('refuses a pending task, a processing one, and a source whose extension is unfinished (409)', async () => {
    const ext = await api('POST', '/api/v1/generateTask/veo-3-1-extend', { body: { input: { taskId: G, prompt: 'the snow melts', mode: 'fast' } } });
    expect(ext.status).toBe(200);
    X = ext.body.data.taskId;
    const pending = await del(X);
    expect(pending.status).toBe(409);
    expect(pending.body).toMatchObject({ code: 409, message: 'Conflict', data: { field: 'taskId' } });
    expect(pending.body.data.error).toMatch(/is pending; only a finished task can be deleted: cancel it first/);
    const source = await del(G);
    expect(source.status).toBe(409);
    expect(source.body.data.error).toContain(`task ${X}, an extension of task ${G}, is pending`);

    const deps = t.service.deps;
    const token = randomUUID();
    const claimed = await claimNextTask(deps.db, deps.clock.now(), 60_000, token);
    expect(claimed?.id).toBe(X);
    const processing = await del(X);
    expect(processing.status).toBe(409);
    expect(processing.body.data.error).toMatch(/is processing/);
    expect((await del(G)).body.data.error).toContain('is processing');
    // The extension ends (failed, its hold released) and its source can go.
    expect(await settleFailure(deps, claimed!, token, 'INTERNAL_ERROR', 'ended by the test', 'local')).toBe(true);
  });

  it("is a 404 for another account's task, an unknown or a malformed id", async () => {
    const stranger = await t.newAccount('stranger');
    for (const [taskId, key] of [
      [G, stranger.key],
      [X, stranger.key],
      ['0'.repeat(32), undefined],
      ['nope', undefined],
    ] as const) {
      const res = await del(taskId, key);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ code: 404, message: 'Not found', data: { field: 'taskId' } });
    }
    // Nothing was deleted.
    expect((await fetch(urls.video, { method: 'HEAD' })).status).toBe(200);
  });

  it('a successful task: its files leave the store, its URLs answer 410, status keeps the task without URLs, the ledger is untouched', async () => {
    const ledgerBefore = await ledger();
    const balanceBefore = await balance();
    expect(await t.service.deps.blobs.stat(keys.video)).not.toBeNull();

    const res = await del(G);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const data = res.body.data;
    expect(data).toMatchObject({ taskId: G, state: 'success' });
    expect(data.deletedAt).toEqual(expect.any(Number));
    expect(data.completeTime).toEqual(expect.any(Number));
    expect(data).not.toHaveProperty('resultJson');
    expect(data).not.toHaveProperty('posterUrl');

    expect(await t.service.deps.blobs.stat(keys.video)).toBeNull();
    expect(await t.service.deps.blobs.stat(keys.poster)).toBeNull();
    for (const url of [urls.video, urls.poster]) {
      const gone = await fetch(url);
      expect(gone.status).toBe(410);
      expect(await gone.json()).toMatchObject({ code: 410, message: 'Gone', data: { error: expect.stringContaining("owner's request") } });
      const head = await fetch(url, { method: 'HEAD' });
      expect(head.status).toBe(410);
      await head.arrayBuffer();
    }

    // statusTask (the fast path, and the route with wait=) answers the same data.
    for (const q of ['', '&wait=1']) {
      const status = await api('GET', `/api/v1/statusTask/veo-3-1?taskId=${G}${q}`);
      expect(status.status).toBe(200);
      expect(status.body.data).toEqual(data);
    }
    const listed = (await api('GET', '/api/v1/tasks?model=veo-3-1')).body.data.tasks.find((x: any) => x.taskId === G);
    expect(listed).toMatchObject({ deletedAt: data.deletedAt, state: 'success' });
    expect(listed).not.toHaveProperty('resultJson');

    expect(await ledger()).toEqual(ledgerBefore);
    expect(await balance()).toBe(balanceBefore);
  });

  it('extending a deleted task is TASKID_ERROR, and nothing is held', async () => {
    const balanceBefore = await balance();
    const ext = await api('POST', '/api/v1/generateTask/veo-3-1-extend', { body: { input: { taskId: G, prompt: 'once more', mode: 'fast' } } });
    expect(ext.status).toBe(400);
    expect(ext.body.data).toMatchObject({ failCode: 'TASKID_ERROR', field: 'input.taskId' });
    expect(ext.body.data.error).toMatch(/was deleted/);
    expect(await balance()).toBe(balanceBefore);
  });

  it('deleting again answers 200 with the same task (idempotent)', async () => {
    const first = (await api('GET', `/api/v1/statusTask/veo-3-1?taskId=${G}`)).body.data;
    const again = await del(G);
    expect(again.status).toBe(200);
    expect(again.body.data).toEqual(first);
    // The client's deleteTask() too: the same data, no result URLs.
    const client = new LongshotClient({ baseUrl: t.url, apiKey: key });
    expect(await client.deleteTask(G)).toEqual({ ...first, resultUrls: [] });
  });

  it('a failed task can be deleted too; lineage then shows both deleted', async () => {
    const ledgerBefore = await ledger();
    const res = await del(X);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ taskId: X, state: 'failed', failCode: 'INTERNAL_ERROR', deletedAt: expect.any(Number) });
    expect(await ledger()).toEqual(ledgerBefore);
    const tree = (await api('GET', `/api/v1/tasks/${X}/lineage`)).body.data;
    expect(tree.rootTaskId).toBe(G);
    for (const n of tree.nodes) expect(n).toMatchObject({ deleted: true, deletedAt: expect.any(Number), videoUrl: null, posterUrl: null });
  });

  it('is in the OpenAPI document as an addition', async () => {
    const doc = (await api('GET', '/api/v1/openapi.json', { key: null })).body;
    const op = doc.paths['/api/v1/tasks/{taskId}'].delete;
    expect(op.operationId).toBe('deleteTask');
    expect(op['x-longshot-addition']).toBe(true);
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '404', '409']));
    expect(doc.components.schemas.TaskStatus.properties.deletedAt['x-longshot-addition']).toBe(true);
  });
});

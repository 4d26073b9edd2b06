import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTasks } from '../src/cli/tasks.js';
import { LongshotClient } from '../src/client/index.js';
import { createApiKey } from '../src/db/accounts-repo.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';
import { freezeClock, insertRow, keyOf } from './support/task-rows.js';

/**
 * GET /api/v1/tasks/{taskId}/lineage over real HTTP, with the local engine rendering a tree:
 * G (generate) → A (extend G) → A1 (extend A), and a branch G → B. Asked from any of its tasks,
 * the answer is the same tree.
 */
let t: TestService;
const id = { G: '', A: '', A1: '', B: '' };

const extend = async (source: string, prompt: string) => {
  const res = await t.api('POST', '/api/v1/generateTask/veo-3-1-extend', { body: { input: { taskId: source, prompt, mode: 'fast' } } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.taskId as string;
};
const lineage = (taskId: string, key?: string) => t.api('GET', `/api/v1/tasks/${taskId}/lineage`, { key });

beforeAll(async () => {
  t = await startTestService();
  const gen = await t.api('POST', '/api/v1/generateTask/veo-3-1', { body: { input: { prompt: 'a harbour at dawn', mode: 'fast', seed: 7 } } });
  id.G = gen.body.data.taskId;
  expect((await waitForTask(t, 'veo-3-1', id.G)).state).toBe('success');
  id.A = await extend(id.G, 'boats leave the harbour');
  id.B = await extend(id.G, 'rain starts to fall');
  expect((await waitForTask(t, 'veo-3-1-extend', id.A)).state).toBe('success');
  id.A1 = await extend(id.A, 'the boats reach the open sea');
  for (const k of ['B', 'A1'] as const) expect((await waitForTask(t, 'veo-3-1-extend', id[k])).state).toBe('success');
}, 300_000);
afterAll(() => t?.close());

describe('lineage of a tree with two branches', () => {
  it('answers the same tree from every node: root first, parents before children, each node with its parent', async () => {
    const unfreeze = freezeClock(t); // the URLs are signed per read: one instant makes them comparable
    try {
      const answers = await Promise.all(Object.values(id).map((taskId) => lineage(taskId)));
      for (const [i, res] of answers.entries()) {
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body.data.taskId).toBe(Object.values(id)[i]);
        expect(res.body.data.rootTaskId).toBe(id.G);
        expect(res.body.data.truncated).toBe(false);
        expect(res.body.data.nodes).toEqual(answers[0]!.body.data.nodes);
      }
      const nodes = answers[0]!.body.data.nodes as any[];
      const byId = new Map(nodes.map((n) => [n.taskId, n]));
      expect(nodes.map((n) => n.taskId).sort()).toEqual(Object.values(id).sort());
      expect(nodes[0].taskId).toBe(id.G);
      // Breadth first: every parent is listed before its children.
      for (const [i, n] of nodes.entries()) if (n.parentTaskId) expect(nodes.findIndex((p) => p.taskId === n.parentTaskId)).toBeLessThan(i);
      expect(byId.get(id.G)).toMatchObject({ parentTaskId: null, depth: 0, model: 'veo-3-1', prompt: 'a harbour at dawn', durationSeconds: 8 });
      expect(byId.get(id.A)).toMatchObject({ parentTaskId: id.G, depth: 1, model: 'veo-3-1-extend', prompt: 'boats leave the harbour', durationSeconds: 15 });
      expect(byId.get(id.B)).toMatchObject({ parentTaskId: id.G, depth: 1, prompt: 'rain starts to fall', durationSeconds: 15 });
      expect(byId.get(id.A1)).toMatchObject({ parentTaskId: id.A, depth: 2, prompt: 'the boats reach the open sea', durationSeconds: 22 });
      for (const n of nodes) {
        expect(n).toMatchObject({ state: 'success', mode: 'fast', hidden: false, deleted: false, deletedAt: null, failCode: null });
        expect(n.completedAt).toBeGreaterThanOrEqual(n.createdAt);
      }
      // The same signed URLs as statusTask's, and they serve the files.
      const status = await t.api('GET', `/api/v1/statusTask/veo-3-1-extend?taskId=${id.A1}`);
      expect(byId.get(id.A1).videoUrl).toBe(JSON.parse(status.body.data.resultJson).resultUrls[0]);
      expect(byId.get(id.A1).posterUrl).toBe(status.body.data.posterUrl);
      const video = await fetch(byId.get(id.B).videoUrl);
      expect(video.status).toBe(200);
      expect(video.headers.get('content-type')).toBe('video/mp4');
      await video.arrayBuffer();
      const poster = await fetch(byId.get(id.G).posterUrl);
      expect(poster.headers.get('content-type')).toBe('image/jpeg');
      await poster.arrayBuffer();
    } finally {
      unfreeze();
    }
  });

  it('is what the client answers with lineage()', async () => {
    const client = new LongshotClient({ baseUrl: t.url, apiKey: t.key });
    const tree = await client.lineage(id.B);
    expect(tree).toMatchObject({ taskId: id.B, rootTaskId: id.G, truncated: false });
    expect(tree.nodes.map((n) => [n.taskId, n.parentTaskId])).toEqual((await lineage(id.B)).body.data.nodes.map((n: any) => [n.taskId, n.parentTaskId]));
  });

  it("is a 404 in the envelope for another account's task, an unknown or a malformed id", async () => {
    const stranger = await t.newAccount('stranger');
    for (const [taskId, key] of [
      [id.A, stranger.key],
      ['0'.repeat(32), undefined],
      ['not-a-task', undefined],
    ] as const) {
      const res = await lineage(taskId, key);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ code: 404, message: 'Not found', data: { field: 'taskId' } });
    }
  });

  it("keeps the tree's shape but hides the tasks a key's permissions do not cover; refuses the task itself with 403", async () => {
    const owner = await keyOf(t, t.key);
    const extOnly = (await createApiKey(t.service.deps.db, owner.accountId, null, Date.now(), { models: ['veo-3-1-extend'] })).key;
    const res = await lineage(id.A1, extOnly);
    expect(res.status).toBe(200);
    const root = res.body.data.nodes.find((n: any) => n.taskId === id.G);
    expect(root).toMatchObject({ parentTaskId: null, model: 'veo-3-1', hidden: true, state: null, prompt: null, videoUrl: null, posterUrl: null });
    expect(res.body.data.nodes.filter((n: any) => !n.hidden)).toHaveLength(3);
    const refused = await lineage(id.G, extOnly);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 403, data: { field: 'taskId' } });
  });

  it('is in the OpenAPI document as an addition', async () => {
    const doc = (await t.api('GET', '/api/v1/openapi.json', { key: null })).body;
    const op = doc.paths['/api/v1/tasks/{taskId}/lineage'].get;
    expect(op.operationId).toBe('taskLineage');
    expect(op['x-longshot-addition']).toBe(true);
    expect(op.responses['200']).toBeDefined();
  });
});

describe('longshot tasks lineage', () => {
  async function cli(...args: string[]): Promise<{ code: number; out: string }> {
    let out = '';
    const database = t.config.databaseUrl ? { DATABASE_URL: t.config.databaseUrl } : {};
    const io = { env: { LONGSHOT_DATA_DIR: t.dataDir, LONGSHOT_LOG_LEVEL: 'error', ...database }, out: (x: string) => (out += x), err: () => {} };
    return { code: await runTasks(args, io), out };
  }

  it('prints the tree depth first, each extension indented under its source, the task asked for marked', async () => {
    const { code, out } = await cli('lineage', id.B);
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines.map((l) => l.match(/^ */)![0].length / 2)).toEqual([0, 1, 2, 1]);
    expect(lines.map((l) => l.trim().split('  ')[0])).toEqual([id.G, id.A, id.A1, id.B]);
    expect(lines[2]).toContain('success  22 s  "the boats reach the open sea"');
    expect(lines[3]).toMatch(/ <$/);
    const json = JSON.parse((await cli('lineage', id.A, '--json')).out);
    expect(json).toMatchObject({ taskId: id.A, rootTaskId: id.G, truncated: false });
    expect(json.nodes).toHaveLength(4);
  });
});

describe('lineage of a large tree', () => {
  it('stops at 500 nodes (truncated), breadth first, and always includes the path to the task asked for', async () => {
    const other = await t.newAccount('wide');
    const owner = await keyOf(t, other.key);
    const root = await insertRow(t, owner, { input: '{"prompt":"root","mode":"fast"}' });
    const children: string[] = [];
    for (let i = 0; i < 520; i++) {
      children.push(
        await insertRow(t, owner, { model: 'veo-3-1-extend', source_task_id: root, chain_depth: 1, input: `{"prompt":"child ${i}","mode":"fast"}` }),
      );
    }
    children.sort(); // ids are the order of a level
    // A grandchild under the last child, beyond the cap of a breadth-first walk.
    const last = children[children.length - 1]!;
    const deep = await insertRow(t, owner, { model: 'veo-3-1-extend', source_task_id: last, chain_depth: 2, state: 'failed', fail_code: 'TIMEOUT' });

    const fromRoot = await lineage(root, other.key);
    expect(fromRoot.status).toBe(200);
    expect(fromRoot.body.data).toMatchObject({ rootTaskId: root, truncated: true });
    const ids = fromRoot.body.data.nodes.map((n: any) => n.taskId);
    expect(ids).toEqual([root, ...children.slice(0, 499)]);

    const fromDeep = await lineage(deep, other.key);
    expect(fromDeep.body.data).toMatchObject({ taskId: deep, rootTaskId: root, truncated: true });
    const deepIds = fromDeep.body.data.nodes.map((n: any) => n.taskId);
    expect(deepIds.slice(0, 500)).toEqual([root, ...children.slice(0, 499)]);
    expect(deepIds.slice(500)).toEqual([last, deep]);
    expect(fromDeep.body.data.nodes.at(-1)).toMatchObject({ state: 'failed', failCode: 'TIMEOUT', parentTaskId: last, durationSeconds: null, videoUrl: null });
  });
});

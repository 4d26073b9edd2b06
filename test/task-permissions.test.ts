import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, findAccountByName, type KeySettings } from '../src/db/accounts-repo.js';
import { removeDataDir, startTestService, type TestService, waitForTask } from './support/service.js';

/**
 * One permission check for every route that names a task: a key may act on a task only if its
 * permissions cover the task's model and provider, whichever key of the account made it (403),
 * and another account's task is a 404 everywhere. Each route is called the way a client would.
 */
let t: TestService;
let dataDir: string;
/** G: a finished `veo-3-1` task; E: a pending `veo-3-1-extend` callback task extending G. */
const task = { G: { id: '', model: 'veo-3-1' }, E: { id: '', model: 'veo-3-1-extend' } };
const keys = { all: '', gen: '', ext: '', value: '', stranger: '' };
const ENV = { LONGSHOT_ALLOW_PRIVATE_CALLBACKS: 'true' };

beforeAll(async () => {
  // The source has to render; the extend must then stay pending (cancel needs that), so the
  // same data dir is reopened without workers.
  dataDir = await mkdtemp(join(tmpdir(), 'longshot-perm-'));
  const first = await startTestService(ENV, { dataDir });
  keys.all = first.key;
  const gen = await first.api('POST', '/api/v1/generateTask/veo-3-1', { body: { input: { prompt: 'a calm sea', mode: 'fast', seed: 3 } } });
  task.G.id = gen.body.data.taskId;
  expect((await waitForTask(first, 'veo-3-1', task.G.id)).state).toBe('success');
  await first.close();

  t = await startTestService(ENV, { dataDir, workers: false });
  const db = t.service.deps.db;
  const account = (await findAccountByName(db, 'default'))!;
  const keyWith = async (settings: Partial<KeySettings>) => (await createApiKey(db, account.id, null, Date.now(), settings)).key;
  keys.gen = await keyWith({ models: ['veo-3-1'] });
  keys.ext = await keyWith({ models: ['veo-3-1-extend'] });
  keys.value = await keyWith({ strategies: ['value'] });
  keys.stranger = (await t.newAccount('stranger')).key;
  const ext = await t.api('POST', '/api/v1/generateTask/veo-3-1-extend', {
    key: keys.all,
    body: { request_type: 'callback', callback_url: 'http://127.0.0.1:9/hook', input: { taskId: task.G.id, prompt: 'and on', mode: 'fast' } },
  });
  expect(ext.status).toBe(200);
  task.E.id = ext.body.data.taskId;
});
afterAll(async () => {
  await t?.close();
  if (dataDir) await removeDataDir(dataDir);
});

type Task = { id: string; model: string };
/** Every route that names a task, called by `key` on `tk`. */
const routes: Record<string, (key: string, tk: Task) => ReturnType<TestService['api']>> = {
  'statusTask (fast path)': (key, tk) => t.api('GET', `/api/v1/statusTask/${tk.model}?taskId=${tk.id}`, { key }),
  'statusTask wait=1 (route)': (key, tk) => t.api('GET', `/api/v1/statusTask/${tk.model}?taskId=${tk.id}&wait=1`, { key }),
  'events (SSE)': (key, tk) => t.api('GET', `/api/v1/events/${tk.id}`, { key }),
  cancel: (key, tk) => t.api('POST', `/api/v1/tasks/${tk.id}/cancel`, { key }),
  webhookDeliveries: (key, tk) => t.api('GET', `/api/v1/webhookDeliveries?taskId=${tk.id}`, { key }),
  redeliver: (key, tk) => t.api('POST', '/api/v1/webhookDeliveries/redeliver', { key, body: { taskId: tk.id } }),
  lineage: (key, tk) => t.api('GET', `/api/v1/tasks/${tk.id}/lineage`, { key }),
  delete: (key, tk) => t.api('DELETE', `/api/v1/tasks/${tk.id}`, { key }),
  'extend (input.taskId)': (key, tk) =>
    t.api('POST', '/api/v1/generateTask/veo-3-1-extend', { key, body: { input: { taskId: tk.id, prompt: 'more', mode: 'fast' } } }),
};

describe('a key may not act on a task its permissions do not cover', () => {
  const denied: Array<[string, keyof typeof keys, keyof typeof task]> = [];
  for (const route of Object.keys(routes)) {
    denied.push([route, 'gen', 'E'], [route, 'ext', 'G'], [route, 'value', 'E'], [route, 'value', 'G']);
  }
  it.each(denied)('%s: the %s key on task %s → 403', async (route, key, tk) => {
    const res = await routes[route]!(keys[key], task[tk]);
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(res.body).toMatchObject({ code: 403, message: 'Forbidden' });
  });
});

describe('another account’s task is a 404 on every route', () => {
  const cases = Object.keys(routes).flatMap(
    (route) =>
      [
        [route, 'G'],
        [route, 'E'],
      ] as Array<[string, keyof typeof task]>,
  );
  it.each(cases)('%s on task %s', async (route, tk) => {
    const res = await routes[route]!(keys.stranger, task[tk]);
    if (route.startsWith('extend')) {
      // An extend source is a field of the body: unusable sources are a 400 TASKID_ERROR (the APIXO contract).
      expect(res.status).toBe(400);
      expect(res.body.data.failCode).toBe('TASKID_ERROR');
    } else {
      expect(res.status, JSON.stringify(res.body)).toBe(404);
      expect(res.body).toMatchObject({ code: 404, message: 'Not found' });
    }
  });
});

describe('keys whose permissions cover the task are served', () => {
  // In order: cancel turns E failed, after which its stream ends and its webhook can be redelivered.
  const allowed: Array<[string, keyof typeof keys, keyof typeof task]> = [
    ['statusTask (fast path)', 'all', 'E'],
    ['statusTask (fast path)', 'ext', 'E'],
    ['statusTask (fast path)', 'gen', 'G'],
    ['statusTask wait=1 (route)', 'all', 'E'],
    ['statusTask wait=1 (route)', 'gen', 'G'],
    ['events (SSE)', 'gen', 'G'],
    ['webhookDeliveries', 'all', 'E'],
    ['webhookDeliveries', 'gen', 'G'],
    ['lineage', 'ext', 'E'],
    ['lineage', 'gen', 'G'],
    ['extend (input.taskId)', 'all', 'G'],
    ['cancel', 'ext', 'E'],
    ['events (SSE)', 'all', 'E'],
    ['redeliver', 'all', 'E'],
  ];
  it.each(allowed)('%s: the %s key on task %s → 200', async (route, key, tk) => {
    const res = await routes[route]!(keys[key], task[tk]);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    if (route.startsWith('events')) expect(String(res.body)).toMatch(/^event: status\n/);
  });
});

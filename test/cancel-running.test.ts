import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getUpstream } from '../src/db/upstream-repo.js';
import type { Service } from '../src/main.js';
import { type FakeGemini, onlyGeminiEnv, startFakeGemini } from './support/fake-gemini.js';
import { startPgServices } from './support/pg-services.js';
import { available } from './support/requires.js';
import { removeDataDir, startTestService, type TestService, waitForTask } from './support/service.js';
import { until } from './support/until.js';

/**
 * Cancel while running (docs/api.md, cancel): a task rendering on the local engine is stopped (its
 * ffmpeg is gone), fails with CANCELLED and is refunded; a task whose Veo operation is running
 * cannot be stopped (Google bills it), so the cancel answers 409 and the task still succeeds.
 */
const GEN = '/api/v1/generateTask/veo-3-1';

/** Pids of live processes whose command line mentions `needle` (an ffmpeg writing into the task's dirs). */
async function processesMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
      // A zombie has an empty command line: it is gone but for its exit status.
      if (cmdline[0]?.includes('ffmpeg') && cmdline.some((arg) => arg.includes(needle))) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('cancel while running, local engine', () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService({ LONGSHOT_WORKERS: '1' });
  });
  afterAll(() => t?.close());

  const balance = async () => (await t.api('GET', '/api/v1/apikeys/current-balance')).body.data as number;

  it('cancels a pending task and refunds it', async () => {
    const before = await balance();
    // Two tasks with one worker: the second waits while the first renders.
    const first = (await t.api('POST', GEN, { body: { input: { prompt: 'first in line', mode: 'quality' } } })).body.data.taskId;
    const second = (await t.api('POST', GEN, { body: { input: { prompt: 'second in line', mode: 'fast' } } })).body.data.taskId;
    const res = await t.api('POST', `/api/v1/tasks/${second}/cancel`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data).toMatchObject({ taskId: second, state: 'failed', failCode: 'CANCELLED', failMsg: 'cancelled by the client before it started' });
    expect((await t.api('POST', `/api/v1/tasks/${first}/cancel`)).status).toBe(200);
    expect(await balance()).toBe(before);
  });

  it('stops a render: its ffmpeg is gone, the task is CANCELLED and refunded', async () => {
    const before = await balance();
    const taskId = (await t.api('POST', GEN, { body: { input: { prompt: 'a long slow sunset over the sea', mode: 'quality' } } })).body.data.taskId;
    const pids = await until(async () => {
      const found = await processesMentioning(taskId);
      return found.length > 0 ? found : undefined;
    }, 'the render to start ffmpeg');
    const res = await t.api('POST', `/api/v1/tasks/${taskId}/cancel`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data).toMatchObject({ taskId, state: 'failed', failCode: 'CANCELLED', failMsg: 'cancelled by the client while it ran' });
    // Killed and reaped: neither the pids seen nor any other ffmpeg of the task remain.
    await until(async () => ((await processesMentioning(taskId)).length === 0 && !pids.some(pidAlive) ? true : undefined), 'no ffmpeg of the task to remain');
    expect(await balance()).toBe(before);
    // The worker lost the task, so it never succeeds and no result was kept.
    const detail = await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`);
    expect(detail.body.data).toMatchObject({ state: 'failed', failCode: 'CANCELLED' });
    expect(detail.body.data.resultJson).toBeUndefined();
    const ledger = await t.service.deps.db.kysely.selectFrom('ledger_entries').select('kind').where('task_id', '=', taskId).orderBy('id').execute();
    expect(ledger.map((e) => e.kind)).toEqual(['hold', 'release']);
    // The render was aborted, not left to finish: an engine attempt that ends, either way, is logged.
    const runs = await t.service.deps.db.kysely.selectFrom('engine_runs').select('outcome').where('task_id', '=', taskId).execute();
    expect(runs).toEqual([]);
    // A second cancel finds it finished.
    const again = await t.api('POST', `/api/v1/tasks/${taskId}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.data).toMatchObject({ field: 'taskId', error: expect.stringContaining('is failed') });
  });
});

describe('cancel while running, an upstream that cannot stop', () => {
  let fake: FakeGemini;
  let t: TestService;
  beforeAll(async () => {
    fake = await startFakeGemini();
    fake.hold = true;
    t = await startTestService({ ...onlyGeminiEnv(fake), LONGSHOT_UPSTREAM_POLL_MS: '40', LONGSHOT_UPSTREAM_POLL_MAX_MS: '100' });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it('answers 409 while the Veo operation runs, and the task still succeeds and is charged', async () => {
    const before = (await t.api('GET', '/api/v1/apikeys/current-balance')).body.data as number;
    const taskId = (await t.api('POST', GEN, { body: { provider: 'official', input: { prompt: 'held upstream', mode: 'fast' } } })).body.data.taskId;
    // The operation is submitted and its name saved: from here Google bills it.
    await until(async () => ((await getUpstream(t.service.deps.db, taskId))?.ref ? true : undefined), 'the operation to be saved');
    const res = await t.api('POST', `/api/v1/tasks/${taskId}/cancel`);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({
      code: 409,
      message: 'Conflict',
      data: { field: 'taskId', error: expect.stringContaining('engine gemini, which cannot stop') },
    });
    expect((await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`)).body.data.state).toBe('processing');
    fake.release();
    const done = await waitForTask(t, 'veo-3-1', taskId);
    expect(done.state).toBe('success');
    const after = (await t.api('GET', '/api/v1/apikeys/current-balance')).body.data as number;
    expect(Math.round((before - after) * 100) / 100).toBe(0.2);
  });

  it('answers 409 for a pending task whose earlier attempt left its operation running', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'longshot-cancel-requeued-'));
    const env = onlyGeminiEnv(fake);
    const first = await startTestService(env, { dataDir });
    let second: TestService | null = null;
    try {
      const taskId = (await first.api('POST', GEN, { body: { provider: 'official', input: { prompt: 'requeued upstream', mode: 'fast' } } })).body.data.taskId;
      await until(async () => ((await getUpstream(first.service.deps.db, taskId))?.ref ? true : undefined), 'the operation to be saved');
      // A graceful stop hands the task back to the queue; its operation keeps running at Google.
      await first.close();
      second = await startTestService(env, { dataDir, workers: false });
      expect((await second.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`, { key: first.key })).body.data.state).toBe('pending');
      const res = await second.api('POST', `/api/v1/tasks/${taskId}/cancel`, { key: first.key });
      expect(res.status).toBe(409);
      expect(res.body.data.error).toContain('is pending on engine gemini, which cannot stop');
    } finally {
      await first.close();
      await second?.close();
      await removeDataDir(dataDir);
    }
  });
});

const base = process.env.DATABASE_URL;
describe.runIf(available('PostgreSQL (DATABASE_URL)', base ? null : 'DATABASE_URL is not set'))('cancel while running, across processes (PostgreSQL)', () => {
  let worker: Service;
  let api: Service;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const started = await startPgServices(base!, 'cancel', [{}, { workers: false }], { LONGSHOT_WORKERS: '1' });
    close = started.close;
    [worker, api] = started.services as [Service, Service];
  });
  afterAll(() => close?.());

  it('stops the render in the worker process when another process takes the cancel', async () => {
    const headers = { authorization: `Bearer ${worker.firstKey}`, 'content-type': 'application/json' };
    const submitted = await fetch(`${api.url}${GEN}`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ input: { prompt: 'cancelled elsewhere', mode: 'quality' } }),
    });
    const { taskId } = ((await submitted.json()) as { data: { taskId: string } }).data;
    await until(async () => ((await processesMentioning(taskId)).length > 0 ? true : undefined), 'the render to start ffmpeg');
    const cancelled = await fetch(`${api.url}/api/v1/tasks/${taskId}/cancel`, { method: 'POST', headers: { authorization: headers.authorization } });
    expect(cancelled.status).toBe(200);
    await until(async () => ((await processesMentioning(taskId)).length === 0 ? true : undefined), 'no ffmpeg of the task to remain');
    const status = await fetch(`${worker.url}/api/v1/statusTask/veo-3-1?taskId=${taskId}`, { headers });
    expect(((await status.json()) as { data: unknown }).data).toMatchObject({ state: 'failed', failCode: 'CANCELLED' });
    // The worker aborted the render rather than letting it finish (a finished attempt is logged).
    await worker.close();
    const runs = await api.deps.db.kysely.selectFrom('engine_runs').select('outcome').where('task_id', '=', taskId).execute();
    expect(runs).toEqual([]);
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { type ChildService, startChildService, waitForExit } from './support/child-service.js';
import { until } from './support/until.js';

/**
 * Durable tasks: a worker process killed (SIGKILL) mid-render; after a restart on the same data
 * directory the task is picked up again and reaches `success` exactly once, charged once.
 */
let dataDir = '';
const children: ChildService[] = [];
afterAll(async () => {
  for (const c of children) c.child.kill('SIGKILL');
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function api(svc: ChildService, key: string, method: string, path: string, body?: unknown) {
  const res = await fetch(svc.url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe('crash recovery', () => {
  it('finishes a task once after its worker was killed mid-render', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'longshot-crash-'));
    const env = { LONGSHOT_DATA_DIR: dataDir, LONGSHOT_LEASE_MS: '1500', LONGSHOT_WORKERS: '1' };
    const first = await startChildService(env);
    children.push(first);
    const key = first.key!;
    const submit = await api(first, key, 'POST', '/api/v1/generateTask/veo-3-1', { input: { prompt: 'a long quality render', mode: 'quality', seed: 11 } });
    expect(submit.status).toBe(200);
    const taskId = submit.body.data.taskId;
    await until(async () => {
      const s = await api(first, key, 'GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`);
      return s.body.data.state === 'processing' ? true : undefined;
    }, 'processing');
    first.child.kill('SIGKILL');
    expect((await waitForExit(first.child)).signal).toBe('SIGKILL');

    const second = await startChildService(env);
    children.push(second);
    expect(second.key).toBeNull(); // same database: no new default account
    const done = await until(async () => {
      const s = await api(second, key, 'GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`);
      return s.body.data.state === 'success' || s.body.data.state === 'failed' ? s.body.data : undefined;
    }, 'the task to finish after restart');
    expect(done.state, JSON.stringify(done)).toBe('success');
    second.child.kill('SIGTERM');
    expect((await waitForExit(second.child)).code).toBe(0);

    const db = new Database(join(dataDir, 'longshot.db'), { readonly: true });
    const row = db.prepare('select attempts, state from tasks where id = ?').get(taskId) as { attempts: number; state: string };
    const entries = db.prepare('select kind, amount_micros from ledger_entries where task_id = ? order by id').all(taskId);
    db.close();
    expect(row).toEqual({ attempts: 2, state: 'success' });
    expect(entries).toEqual([
      { kind: 'hold', amount_micros: 1_500_000 },
      { kind: 'capture', amount_micros: 1_500_000 },
    ]);
  });
});

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { type Service, startService } from '../src/main.js';
import { createPgSchema } from './support/databases.js';
import { available } from './support/requires.js';

/**
 * Two API processes' worth of services on one PostgreSQL schema: a task cancelled through one
 * reaches the long-poll and SSE readers of the other through LISTEN/NOTIFY, not their re-read.
 */
const base = process.env.DATABASE_URL;
describe.runIf(available('PostgreSQL (DATABASE_URL)', base ? null : 'DATABASE_URL is not set'))('task events across processes (PostgreSQL)', () => {
  let a: Service;
  let b: Service;
  let dir: string;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'longshot-events-'));
    const schema = await createPgSchema(base!, `e_${randomBytes(6).toString('hex')}`);
    drop = schema.drop;
    const env = {
      LONGSHOT_PORT: '0',
      LONGSHOT_DATA_DIR: dir,
      LONGSHOT_LOG_LEVEL: 'error',
      DATABASE_URL: schema.url,
      LONGSHOT_SUBMIT_RPM: '0',
      LONGSHOT_STATUS_RPM: '0',
    };
    a = await startService(loadConfig(env), { log: pino({ level: 'error' }), workers: false });
    b = await startService(loadConfig(env), { log: pino({ level: 'error' }), workers: false });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await drop?.();
    await rm(dir, { recursive: true, force: true });
  });

  it('wakes the readers of another process when a task changes there', { timeout: 15_000 }, async () => {
    const headers = { authorization: `Bearer ${a.firstKey}`, 'content-type': 'application/json' };
    const submitted = await fetch(`${a.url}/api/v1/generateTask/veo-3-1`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ input: { prompt: 'events', mode: 'fast' } }),
    });
    const { taskId } = ((await submitted.json()) as { data: { taskId: string } }).data;

    // Resolves on a publish for this task, or only after 60 s: the test's 15 s timeout tells them apart.
    const signalled = a.deps.taskEvents.next(taskId, 60_000);
    const longPoll = fetch(`${a.url}/api/v1/statusTask/veo-3-1?taskId=${taskId}&wait=50`, { headers });
    await new Promise((r) => setTimeout(r, 300)); // the long-poll is held on A
    const cancelled = await fetch(`${b.url}/api/v1/tasks/${taskId}/cancel`, { method: 'POST', headers: { authorization: headers.authorization } });
    expect(cancelled.status).toBe(200);
    await signalled;
    const answer = (await (await longPoll).json()) as { data: { state: string; failCode: string } };
    expect(answer.data).toMatchObject({ state: 'failed', failCode: 'CANCELLED' });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../src/main.js';
import { startPgServices } from './support/pg-services.js';
import { available } from './support/requires.js';

/**
 * Two API processes' worth of services on one PostgreSQL schema: a task cancelled through one
 * reaches the long-poll and SSE readers of the other through LISTEN/NOTIFY, not their re-read.
 */
const base = process.env.DATABASE_URL;
describe.runIf(available('PostgreSQL (DATABASE_URL)', base ? null : 'DATABASE_URL is not set'))('task events across processes (PostgreSQL)', () => {
  let a: Service;
  let b: Service;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const started = await startPgServices(base!, 'events', [{ workers: false }, { workers: false }]);
    close = started.close;
    [a, b] = started.services as [Service, Service];
  });
  afterAll(() => close?.());

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

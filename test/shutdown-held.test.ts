import { describe, expect, it } from 'vitest';
import { startTestService } from './support/service.js';

/**
 * A graceful stop (SIGTERM → Service.close) answers held long-polls at once with the task's
 * current state and ends SSE streams, instead of leaving them to the grace period and then
 * cutting their connections. The grace period is long here; the bound only catches a hang.
 */
const BOUND_MS = 20_000;
const within = <T>(p: Promise<T>): Promise<T | 'still held'> =>
  Promise.race([p, new Promise<'still held'>((r) => setTimeout(() => r('still held'), BOUND_MS).unref())]);

describe('shutdown with held requests', () => {
  it('answers an open wait= long-poll with the current state and ends an SSE stream', async () => {
    const t = await startTestService({ LONGSHOT_SHUTDOWN_GRACE_SECONDS: '40' }, { workers: false });
    let closing: Promise<void> | null = null;
    try {
      const taskId = (await t.api('POST', '/api/v1/generateTask/veo-3-1', { body: { input: { prompt: 'held at shutdown', mode: 'fast' } } })).body.data.taskId;
      const headers = { authorization: `Bearer ${t.key}` };
      const sse = await fetch(`${t.url}/api/v1/events/${taskId}`, { headers });
      const sseText = sse.text();
      const poll = fetch(`${t.url}/api/v1/statusTask/veo-3-1?taskId=${taskId}&wait=60`, { headers }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as any,
      }));
      // Both are held once the service counts two waiting readers.
      while (t.service.deps.taskEvents.waiting() < 2) await new Promise((r) => setTimeout(r, 20));

      closing = t.close();
      const answered = await within(poll);
      expect(answered).not.toBe('still held');
      expect(answered).toMatchObject({ status: 200, body: { code: 200, data: { taskId, state: 'pending' } } });
      const streamed = await within(sseText);
      expect(streamed).not.toBe('still held');
      expect(streamed).toContain('event: status');
      expect(await within(closing)).not.toBe('still held');
    } finally {
      await (closing ?? t.close());
    }
  });
});

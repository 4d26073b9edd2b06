import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.js';

/**
 * `queuePosition` (docs/api.md, progress) with two workers busy: four renders, two waiting, and
 * each waiting task's position counts down to 0 as the workers take the queue in submit order; a
 * task being rendered has no position.
 */
let t: TestService;
beforeAll(async () => {
  t = await startTestService({ LONGSHOT_WORKERS: '2' });
});
afterAll(() => t?.close());

describe('queue position', () => {
  it('counts down for pending tasks while two workers are busy', async () => {
    const ids: string[] = [];
    const submit = async (i: number) => {
      const res = await t.api('POST', '/api/v1/generateTask/veo-3-1', { body: { input: { prompt: `queue ${i}`, mode: 'fast', seed: 100 + i } } });
      expect(res.status).toBe(200);
      ids.push(res.body.data.taskId);
    };
    // The first render half done before the others are submitted: the two workers then finish
    // half a render apart, so the last task waits at position 0 for a while, not for an instant
    // that two renders ending together (same length, started together) would leave between polls.
    await submit(0);
    for (;;) {
      const data = (await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${ids[0]}`)).body.data;
      if (data.state !== 'pending' && data.state !== 'processing') break;
      if (data.state === 'processing' && (data.progress ?? 0) >= 50) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (let i = 1; i < 4; i++) await submit(i);
    const positions = new Map<string, number[]>(ids.map((id) => [id, []]));
    const done = new Set<string>();
    while (done.size < ids.length) {
      for (const id of ids) {
        if (done.has(id)) continue;
        const res = await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${id}`);
        expect(res.status).toBe(200);
        const data = res.body.data;
        if (data.state === 'pending') {
          expect(Number.isInteger(data.queuePosition)).toBe(true);
          positions.get(id)!.push(data.queuePosition);
        } else expect(data).not.toHaveProperty('queuePosition');
        if (data.state === 'success' || data.state === 'failed') {
          expect(data.state).toBe('success');
          done.add(id);
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const [i, id] of ids.entries()) {
      const seen = positions.get(id)!;
      // Never more tasks ahead than were submitted before it, and the count only goes down.
      for (const p of seen) expect(p).toBeLessThanOrEqual(i);
      for (let k = 1; k < seen.length; k++) expect(seen[k]).toBeLessThanOrEqual(seen[k - 1]!);
    }
    // The last task waited behind the others: it saw its position fall, down to 0 before its turn.
    const last = positions.get(ids[3]!)!;
    expect(last.length).toBeGreaterThan(1);
    expect(last[0]).toBeGreaterThan(last.at(-1)!);
    expect(last.at(-1)).toBe(0);
  }, 300_000);
});

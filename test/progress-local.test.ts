import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTaskById, raiseProgress } from '../src/db/tasks-repo.js';
import { startTestService, type TestService } from './support/service.js';
import { statusEvents } from './support/sse.js';

/**
 * Progress of a local render (docs/api.md, progress): ffmpeg's own output time against the clip's
 * length, seen over plain polling and over SSE. Quality mode, the slower encode, so that a render
 * lasts long enough for several values to be stored (at most one a second).
 */
let t: TestService;
beforeAll(async () => {
  t = await startTestService();
});
afterAll(() => t?.close());

async function submit(seed: number): Promise<string> {
  const res = await t.api('POST', '/api/v1/generateTask/veo-3-1', { body: { input: { prompt: 'progress of a slow quality render', mode: 'quality', seed } } });
  expect(res.status).toBe(200);
  return res.body.data.taskId;
}

function expectRising(values: number[]): void {
  for (const v of values) {
    expect(Number.isInteger(v)).toBe(true);
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThanOrEqual(100);
  }
  for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1]!);
}

describe('local render progress', () => {
  it('rises over polling, below 100 while processing, and is 100 at success', async () => {
    const taskId = await submit(21);
    const during: number[] = [];
    let last: any;
    for (;;) {
      const res = await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`);
      expect(res.status).toBe(200);
      last = res.body.data;
      if (last.state === 'success' || last.state === 'failed') break;
      if (last.progress !== undefined) during.push(last.progress);
      if (last.state === 'processing' && last.progress !== undefined) expect(last.progress).toBeLessThan(100);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(last.state).toBe('success');
    expect(last.progress).toBe(100);
    const values = [...during, last.progress];
    expectRising(values);
    // Several distinct values were stored on the way, not only the final 100.
    expect(new Set(during).size).toBeGreaterThanOrEqual(2);
    expect(Math.max(...during)).toBeGreaterThan(0);
  }, 240_000);

  it('sends each new progress as an SSE status event, rising to 100 at success', async () => {
    const taskId = await submit(22);
    const res = await fetch(`${t.url}/api/v1/events/${taskId}`, { headers: { authorization: `Bearer ${t.key}` } });
    expect(res.status).toBe(200);
    const text = await res.text(); // the stream ends after the final state
    const events = statusEvents(text);
    const final = events.at(-1);
    expect(final.state).toBe('success');
    expect(final.progress).toBe(100);
    const processing = events.filter((e) => e.state === 'processing' && e.progress !== undefined).map((e) => e.progress as number);
    expect(new Set(processing).size).toBeGreaterThanOrEqual(2);
    expectRising(events.filter((e) => e.progress !== undefined).map((e) => e.progress as number));
  }, 240_000);

  it('stores the highest value only: a lower one written later does not lower it', async () => {
    const taskId = await submit(23);
    // Wait until a worker holds it, then write through its lease as a retry would (from 0 again).
    let row = await getTaskById(t.service.deps.db, taskId);
    while (row && !(row.state === 'processing' && row.progress !== null && row.progress > 5)) {
      await new Promise((r) => setTimeout(r, 50));
      row = await getTaskById(t.service.deps.db, taskId);
    }
    if (row?.state !== 'processing') return expect.fail(`task ended before its progress passed 5: ${row?.state}`);
    const seen = row.progress!;
    expect(await raiseProgress(t.service.deps.db, taskId, row.lease_token!, 1)).toBe(false);
    const after = await getTaskById(t.service.deps.db, taskId);
    expect(after!.progress).toBeGreaterThanOrEqual(seen);
  }, 240_000);
});

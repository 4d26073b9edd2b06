import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.js';
import { statusEvents } from './support/sse.js';

/** Long-poll `wait=` on statusTask and the SSE stream per task (docs/contract.md §9). */
let t: TestService;
beforeAll(async () => {
  t = await startTestService();
});
afterAll(() => t?.close());

async function submit(): Promise<string> {
  return (await t.api('POST', '/api/v1/generateTask/veo-3-1', { body: { input: { prompt: 'long poll', mode: 'fast', seed: 5 } } })).body.data.taskId;
}

describe('long-poll', () => {
  it('holds the answer until the state changes, then answers with the new state', async () => {
    const taskId = await submit();
    const seen: string[] = [];
    let state = 'pending';
    while (state !== 'success' && state !== 'failed') {
      const res = await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}&wait=60`);
      expect(res.status).toBe(200);
      state = res.body.data.state;
      seen.push(state);
    }
    // A held answer comes back on a change, so `pending` (the state at submit) is never answered.
    expect(seen.at(-1)).toBe('success');
    expect(seen).not.toContain('pending');
  });

  it('answers a finished task at once and refuses a bad wait', async () => {
    const bad = await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${'0'.repeat(32)}&wait=61`);
    expect([400, 404]).toContain(bad.status);
    const taskId = await submit();
    const res = await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}&wait=61`);
    expect(res.status).toBe(400);
    expect(res.body.data.field).toBe('wait');
  });
});

describe('server-sent events', () => {
  it('streams each state of a task and ends after the final one', async () => {
    const taskId = await submit();
    const res = await fetch(`${t.url}/api/v1/events/${taskId}`, { headers: { authorization: `Bearer ${t.key}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await res.text(); // the server ends the stream after success
    const events = statusEvents(text);
    expect(events.at(-1).state).toBe('success');
    expect(events.at(-1).taskId).toBe(taskId);
    expect(JSON.parse(events.at(-1).resultJson).resultUrls).toHaveLength(1);
    // A state may be sent again with a new progress (docs/api.md), but never comes back after it moved on.
    const states = events.map((e) => e.state).filter((s, i, all) => s !== all[i - 1]);
    expect(new Set(states).size).toBe(states.length);
  });

  it('404 in the envelope for another account’s task', async () => {
    const taskId = await submit();
    const other = await t.newAccount('sse-other');
    const res = await t.api('GET', `/api/v1/events/${taskId}`, { key: other.key });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe(404);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordEngineRun } from '../src/db/engine-health-repo.js';
import { durationHistory } from '../src/services/duration-history.js';
import { startTestService, type TestService } from './support/service.js';

/**
 * The additions to the status `data` (docs/api.md, progress) are absent while unknown, so an
 * APIXO client sees APIXO's shape: a pending task without any history has exactly `taskId`,
 * `state`, `createTime` and its `queuePosition`; the plain poll (fast path) and the full route
 * (`&wait=0`, which the fast path declines) answer the same bytes. No workers: tasks stay pending.
 */
let t: TestService;
beforeAll(async () => {
  t = await startTestService({ LONGSHOT_WORKERS: '2' }, { workers: false });
});
afterAll(() => t?.close());

const GEN = '/api/v1/generateTask/veo-3-1';
const statusPath = (id: string) => `/api/v1/statusTask/veo-3-1?taskId=${id}`;

async function submit(mode: 'fast' | 'quality', provider?: string): Promise<string> {
  const res = await t.api('POST', GEN, { body: { ...(provider ? { provider } : {}), input: { prompt: 'fields', mode } } });
  expect(res.status).toBe(200);
  return res.body.data.taskId;
}

async function bothReads(id: string): Promise<any> {
  const fast = await t.api('GET', statusPath(id));
  const route = await t.api('GET', `${statusPath(id)}&wait=0`);
  expect(fast.status).toBe(200);
  expect(route.status).toBe(200);
  expect(JSON.stringify(route.body)).toBe(JSON.stringify(fast.body));
  return fast.body.data;
}

describe('progress fields', () => {
  it('a pending task without history: no progress, no estimate, only its place in the queue', async () => {
    const first = await submit('quality');
    const second = await submit('quality');
    // The history is loaded by the first reads; it stays empty (no engine ever ran here).
    await durationHistory(t.service.deps).refresh();
    const a = await bothReads(first);
    const b = await bothReads(second);
    expect(Object.keys(a)).toEqual(['taskId', 'state', 'createTime', 'queuePosition']);
    expect(a.state).toBe('pending');
    expect(a.queuePosition).toBe(0);
    expect(Object.keys(b)).toEqual(['taskId', 'state', 'createTime', 'queuePosition']);
    expect(b.queuePosition).toBe(1);
  });

  it('the position follows the queue: a task ahead that leaves it counts no more', async () => {
    const ahead = await submit('fast');
    const behind = await submit('fast');
    const before = (await bothReads(behind)).queuePosition as number;
    // Read again unchanged (the fast path keeps its count while nothing commits)…
    expect((await t.api('GET', statusPath(behind))).body.data.queuePosition).toBe(before);
    // …and a commit elsewhere in the queue is seen at the next read.
    expect((await t.api('POST', `/api/v1/tasks/${ahead}/cancel`)).status).toBe(200);
    expect((await bothReads(behind)).queuePosition).toBe(before - 1);
  });

  it('a failed task has none of the fields', async () => {
    const id = await submit('fast');
    expect((await t.api('POST', `/api/v1/tasks/${id}/cancel`)).status).toBe(200);
    const data = await bothReads(id);
    expect(data.state).toBe('failed');
    for (const field of ['progress', 'queuePosition', 'etaSeconds']) expect(data).not.toHaveProperty(field);
  });

  it('with history for the model and mode, a pending task gets an estimate: its run times the rounds ahead', async () => {
    const deps = t.service.deps;
    // One finished run of the route's engine (local) for veo-3-1 fast, 4 s, and none for quality.
    await recordEngineRun(deps.db, {
      engine: 'local',
      taskId: 'f'.repeat(32),
      outcome: 'success',
      latencyMs: 4000,
      finishedAt: deps.clock.now(),
      model: 'veo-3-1',
      mode: 'fast',
    });
    await durationHistory(deps).refresh();
    const quality = await submit('quality');
    expect(await bothReads(quality)).not.toHaveProperty('etaSeconds');

    const ids = [await submit('fast'), await submit('fast'), await submit('fast')];
    const reads = [];
    for (const id of ids) reads.push(await bothReads(id));
    const ahead = reads.map((r) => r.queuePosition as number);
    // Every pending task before it counts, whatever its mode (workers take them in this order).
    expect(ahead[1]).toBe(ahead[0]! + 1);
    expect(ahead[2]).toBe(ahead[0]! + 2);
    // 2 workers (LONGSHOT_WORKERS): 4 s × (1 + ⌊queuePosition / 2⌋).
    for (const r of reads) expect(r.etaSeconds).toBe(4 * (1 + Math.floor(r.queuePosition / 2)));
    expect(reads[0]).not.toHaveProperty('progress');
  });

  it('a task on another route counts the same queue: workers take every route from one queue', async () => {
    const before = await submit('fast', 'value');
    const after = await submit('fast', 'official');
    const a = await bothReads(before);
    const b = await bothReads(after);
    expect(b.queuePosition).toBe(a.queuePosition + 1);
  });
});

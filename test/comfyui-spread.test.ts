import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { comfyServiceEnv, type FakeComfy, startFakeComfy } from './support/fake-comfyui.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';
import { until } from './support/until.js';

/**
 * Two ComfyUI machines of `concurrency` 1 on one route (docs/comfyui.md, several instances): a
 * task goes to the first engine with a free slot, so two tasks claimed together by two worker
 * loops run at once, one on each machine; a task that finds both full waits in Longshot for the
 * first, as a route did before. Three worker loops, so the third task is claimed and has to choose.
 */
let a: FakeComfy;
let b: FakeComfy;
let t: TestService;

beforeAll(async () => {
  [a, b] = await Promise.all([startFakeComfy(), startFakeComfy()]);
  t = await startTestService(
    comfyServiceEnv({ a: { type: 'comfyui', baseUrl: a.url }, b: { type: 'comfyui', baseUrl: b.url } }, 'official=a,b', { LONGSHOT_WORKERS: '3' }),
  );
});

afterEach(() => {
  a.release();
  b.release();
  a.down = false;
  b.down = false;
});

afterAll(async () => {
  await t?.close();
  await Promise.all([a?.close(), b?.close()]);
});

async function submit(prompt: string): Promise<string> {
  const res = await t.api('POST', '/api/v1/generateTask/veo-3-1', { body: { provider: 'official', input: { prompt, mode: 'fast' } } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.taskId;
}

const status = async (id: string): Promise<any> => (await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${id}`)).body.data;
const running = (fake: FakeComfy, id: string) => until(async () => ((fake.progressSent.get(id) ?? 0) > 0 ? true : undefined), 'the prompt to run');
const on = (fake: FakeComfy, ids: string[]) => ids.filter((id) => fake.prompts.has(id));

describe('spreading one route over two ComfyUI instances', () => {
  it('runs two tasks submitted together at the same time, one on each instance', async () => {
    a.hold = true;
    b.hold = true;
    const ids = await Promise.all([submit('a pier at dawn'), submit('a pier at dusk')]);
    // Both prompts reach their first step while held: each machine runs one at once.
    await until(async () => (ids.every((id) => (a.progressSent.get(id) ?? b.progressSent.get(id) ?? 0) > 0) ? true : undefined), 'both prompts to run');
    expect(on(a, ids)).toHaveLength(1);
    expect(on(b, ids)).toHaveLength(1);
    a.release();
    b.release();
    for (const id of ids) expect((await waitForTask(t, 'veo-3-1', id)).state).toBe('success');
  });

  it('makes a third task wait in Longshot for the first instance while both are full, then runs it', async () => {
    a.hold = true;
    b.hold = true;
    const ids = await Promise.all([submit('a mill wheel turning'), submit('a mill pond')]);
    await until(async () => (on(a, ids).length === 1 && on(b, ids).length === 1 ? true : undefined), 'one prompt on each instance');
    const third = await submit('a mill at night');
    // Claimed by the third worker loop, but sent to neither machine: both have their one prompt.
    await until(async () => ((await status(third)).state === 'processing' ? true : undefined), 'the third task to be claimed');
    expect(a.prompts.has(third)).toBe(false);
    expect(b.prompts.has(third)).toBe(false);
    // Room on b does not move it: it waits on the first engine of its route, as before.
    b.release();
    expect((await waitForTask(t, 'veo-3-1', on(b, ids)[0]!)).state).toBe('success');
    expect(a.prompts.has(third)).toBe(false);
    a.release();
    const data = await waitForTask(t, 'veo-3-1', third);
    expect(data.state, JSON.stringify(data)).toBe('success');
    expect(a.prompts.has(third)).toBe(true);
    expect(b.prompts.has(third)).toBe(false);
  });

  it('fails a task over from the instance with room to the full one when the first is down', async () => {
    a.hold = true;
    const first = await submit('a lighthouse');
    await running(a, first);
    b.down = true;
    // b has the free slot, so the task goes there first; b is down, so it fails over to a and waits.
    const second = await submit('a lighthouse in fog');
    await until(async () => (t.service.deps.health.standing('b').consecutiveFailures > 0 ? true : undefined), 'the submit to b to fail');
    expect(a.prompts.has(second)).toBe(false);
    a.release();
    const data = await waitForTask(t, 'veo-3-1', second);
    expect(data.state, JSON.stringify(data)).toBe('success');
    expect(a.prompts.has(second)).toBe(true);
    expect(b.prompts.has(second)).toBe(false);
  });
});

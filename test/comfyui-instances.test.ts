import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comfyServiceEnv, type FakeComfy, startFakeComfy } from './support/fake-comfyui.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';
import { until } from './support/until.js';

/**
 * Two ComfyUI machines as two `comfyui` engines (docs/comfyui.md, several instances). A route
 * lists engines in order and a task fails over to the next only on UPSTREAM_ERROR (run-task.ts),
 * so `official=a,b` sends one task at a time to `a` while it serves (it has room; spreading over
 * both is test/comfyui-spread.test.ts) and to `b` when `a` is unavailable,
 * down or loses the job; `value=a` and `auto=b` keep one machine each, so a restart of `a` fails only its own
 * task, refunded, while `b`'s goes on.
 */
let a: FakeComfy;
let b: FakeComfy;
let t: TestService;

beforeAll(async () => {
  [a, b] = await Promise.all([startFakeComfy(), startFakeComfy()]);
  t = await startTestService(
    comfyServiceEnv({ a: { type: 'comfyui', baseUrl: a.url }, b: { type: 'comfyui', baseUrl: b.url } }, 'official=a,b;value=a;auto=b'),
  );
});

afterAll(async () => {
  await t?.close();
  await Promise.all([a?.close(), b?.close()]);
});

async function submit(provider: string, prompt: string): Promise<string> {
  const res = await t.api('POST', '/api/v1/generateTask/veo-3-1', { body: { provider, input: { prompt, mode: 'fast' } } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.taskId;
}

const running = (fake: FakeComfy, id: string) => until(async () => ((fake.progressSent.get(id) ?? 0) > 0 ? true : undefined), 'the prompt to run');

describe('two ComfyUI instances on one route', () => {
  it('sends the task to the first instance while it serves', async () => {
    const id = await submit('official', 'a harbour at noon');
    expect((await waitForTask(t, 'veo-3-1', id)).state).toBe('success');
    expect(a.prompts.has(id)).toBe(true);
    expect(b.prompts.has(id)).toBe(false);
  });

  it('fails over to the second instance when the first is down', async () => {
    a.down = true;
    try {
      const id = await submit('official', 'a quiet street');
      const data = await waitForTask(t, 'veo-3-1', id);
      expect(data.state, JSON.stringify(data)).toBe('success');
      expect(a.prompts.has(id)).toBe(false);
      expect(b.prompts.has(id)).toBe(true);
    } finally {
      a.down = false;
    }
  });

  it('renders on the second instance a job the first lost in a restart', async () => {
    a.hold = true;
    const id = await submit('official', 'a lantern on a lake');
    await running(a, id);
    a.restart();
    a.hold = false;
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data.state, JSON.stringify(data)).toBe('success');
    expect(b.prompts.has(id)).toBe(true);
  });
});

describe('two instances on one route, the first lacking a model', () => {
  let other: TestService;
  beforeAll(async () => {
    a.models.set('vae', []);
    other = await startTestService(
      comfyServiceEnv({ a: { type: 'comfyui', baseUrl: a.url }, b: { type: 'comfyui', baseUrl: b.url } }, 'official=a,b;value=a;auto=b'),
    );
  });
  afterAll(async () => {
    a.models.set('vae', ['wan2.2_vae.safetensors']);
    await other?.close();
  });

  it('passes over the unavailable instance and renders on the second', async () => {
    expect(other.service.deps.health.standing('a').available).toBe(false);
    const res = await other.api('POST', '/api/v1/generateTask/veo-3-1', { body: { provider: 'official', input: { prompt: 'a red barn', mode: 'fast' } } });
    const id = res.body.data.taskId;
    expect((await waitForTask(other, 'veo-3-1', id)).state).toBe('success');
    expect(a.prompts.has(id)).toBe(false);
    expect(b.prompts.has(id)).toBe(true);
  });
});

describe('one instance of two restarting', () => {
  it('fails only its own task as UPSTREAM_ERROR, refunded; the other instance finishes its task', async () => {
    a.hold = true;
    b.hold = true;
    const onA = await submit('value', 'a slow river');
    const onB = await submit('auto', 'a fast river');
    await Promise.all([running(a, onA), running(b, onB)]);
    a.restart();
    a.hold = false;
    const lost = await waitForTask(t, 'veo-3-1', onA);
    expect(lost).toMatchObject({ state: 'failed', failCode: 'UPSTREAM_ERROR' });
    expect(lost.failMsg).toMatch(/the engine lost the job/);
    // The lost task's hold was released, not captured.
    const entries: { kind: string; taskId: string | null; amount: number }[] = (await t.api('GET', '/api/v1/account/ledger?limit=200')).body.data.entries;
    const mine = entries.filter((e) => e.taskId === onA).map((e) => [e.kind, e.amount]);
    expect(mine.sort()).toEqual([
      ['hold', mine[0]![1]],
      ['release', mine[0]![1]],
    ]);
    b.release();
    expect((await waitForTask(t, 'veo-3-1', onB)).state).toBe('success');
    expect(a.prompts.has(onB)).toBe(false);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comfyServiceEnv, type FakeComfy, startFakeComfy } from './support/fake-comfyui.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';
import { until } from './support/until.js';

/**
 * Polling a prompt (docs/comfyui.md, how a task runs: truth): on a core with the jobs API the
 * engine asks `GET /api/jobs/{id}` and never `/queue` or `/history/{id}`; on an older core it asks
 * those two. Both end alike: a success is fetched, an execution error fails the task quoting the
 * node, and a prompt the core no longer knows (it restarted) fails as lost, refunded.
 */
let older: FakeComfy;
let newer: FakeComfy;
let t: TestService;

beforeAll(async () => {
  [older, newer] = await Promise.all([startFakeComfy(), startFakeComfy({ jobsApi: true })]);
  t = await startTestService(
    comfyServiceEnv(
      { older: { type: 'comfyui', baseUrl: older.url }, newer: { type: 'comfyui', baseUrl: newer.url } },
      'official=newer;value=older;auto=newer',
    ),
  );
});

afterAll(async () => {
  await t?.close();
  await Promise.all([older?.close(), newer?.close()]);
});

async function submit(provider: string, prompt: string): Promise<string> {
  const res = await t.api('POST', '/api/v1/generateTask/veo-3-1', { body: { provider, input: { prompt, mode: 'fast' } } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.taskId;
}

/** The polls of the old protocol among the requests the fake got. */
const oldPolls = (fake: FakeComfy) => fake.requests.filter((r) => r === 'GET /queue' || r.startsWith('GET /history/'));

/** The task's ledger: held, then released (refunded), never captured. */
async function refunded(id: string): Promise<void> {
  const entries: { kind: string; taskId: string | null; amount: number }[] = (await t.api('GET', '/api/v1/account/ledger?limit=200')).body.data.entries;
  const mine = entries.filter((e) => e.taskId === id).map((e) => [e.kind, e.amount]);
  expect(mine.sort()).toEqual([
    ['hold', mine[0]![1]],
    ['release', mine[0]![1]],
  ]);
}

describe('a core with the jobs API', () => {
  it('polls GET /api/jobs/{id} to the end, never /queue or /history/{id}, and fetches the video from its outputs', async () => {
    newer.requests.length = 0;
    const id = await submit('official', 'a kite over dunes');
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data.state, JSON.stringify(data)).toBe('success');
    expect(newer.requests.filter((r) => r === `GET /api/jobs/${id}`).length).toBeGreaterThan(0);
    expect(oldPolls(newer)).toEqual([]);
    expect(newer.requests).toContain('GET /view');
    expect(newer.historyDeletes).toContain(id);
  });

  it('fails an execution error as UPSTREAM_ERROR quoting the node and its exception, refunded', async () => {
    newer.requests.length = 0;
    const id = await submit('official', 'a kite fake:error');
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data).toMatchObject({ state: 'failed', failCode: 'UPSTREAM_ERROR' });
    expect(data.failMsg).toContain('ComfyUI failed the workflow wan22-ti2v-5b: KSampler 3: Allocation on device 0 would exceed allowed memory');
    expect(oldPolls(newer)).toEqual([]);
    await refunded(id);
  });

  it('fails a prompt the core forgot in a restart (404 for its id) as lost, refunded', async () => {
    newer.requests.length = 0;
    newer.hold = true;
    const id = await submit('official', 'a kite at night');
    await until(async () => ((newer.progressSent.get(id) ?? 0) > 0 ? true : undefined), 'the prompt to run');
    newer.restart();
    newer.hold = false;
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data).toMatchObject({ state: 'failed', failCode: 'UPSTREAM_ERROR' });
    expect(data.failMsg).toMatch(/the engine lost the job/);
    expect(oldPolls(newer)).toEqual([]);
    await refunded(id);
  });
});

describe('a core that loses the jobs API while a prompt runs', () => {
  it('falls back to /queue and /history/{id} and fetches the video (the 404 was the route, not the job)', async () => {
    newer.requests.length = 0;
    newer.hold = true;
    const id = await submit('official', 'a kite at dawn');
    await until(async () => ((newer.progressSent.get(id) ?? 0) > 0 ? true : undefined), 'the prompt to run');
    await until(async () => (newer.requests.includes(`GET /api/jobs/${id}`) ? true : undefined), 'a poll of the jobs API');
    newer.jobsApi = false;
    try {
      newer.release();
      const data = await waitForTask(t, 'veo-3-1', id);
      expect(data.state, JSON.stringify(data)).toBe('success');
      expect(newer.requests).toContain(`GET /history/${id}`);
    } finally {
      newer.jobsApi = true;
    }
  });
});

describe('a core without the jobs API', () => {
  it('polls /queue and /history/{id} and fails an execution error the same way', async () => {
    older.requests.length = 0;
    const id = await submit('value', 'a kite fake:error');
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data).toMatchObject({ state: 'failed', failCode: 'UPSTREAM_ERROR' });
    expect(data.failMsg).toContain('ComfyUI failed the workflow wan22-ti2v-5b: KSampler 3: Allocation on device 0 would exceed allowed memory');
    expect(older.requests).toContain('GET /queue');
    expect(older.requests).toContain(`GET /history/${id}`);
    expect(older.requests.some((r) => r.startsWith('GET /api/jobs/'))).toBe(false);
    await refunded(id);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeFal, startFakeFal } from './support/fake-fal.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';

/**
 * An upstream engine cannot say how far its job is: its progress is estimated from the time
 * elapsed against its recent successful runs of the same model and mode (docs/api.md, progress),
 * capped at 95 until the job is done, then 100. The fake fal queue holds each job until released,
 * so the first job makes a history of a few seconds and the second is watched against it.
 */
let fal: FakeFal;
let t: TestService;
beforeAll(async () => {
  fal = await startFakeFal();
  t = await startTestService({
    LONGSHOT_ENGINES: JSON.stringify({ fal: { type: 'fal', apiKey: fal.apiKey, baseUrl: fal.url, allowPrivate: true } }),
    LONGSHOT_ROUTES: 'official=fal;value=fal;auto=fal',
    LONGSHOT_UPSTREAM_POLL_MS: '40',
    LONGSHOT_UPSTREAM_POLL_MAX_MS: '100',
    LONGSHOT_UPSTREAM_RETRY_MS: '20',
    LONGSHOT_UPSTREAM_RETRIES: '1',
    LONGSHOT_WORKERS: '1',
  });
});
afterAll(async () => {
  await t?.close();
  await fal?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function submit(prompt: string): Promise<string> {
  const res = await t.api('POST', '/api/v1/generateTask/veo-3-1', { body: { input: { prompt, mode: 'fast' } } });
  expect(res.status).toBe(200);
  return res.body.data.taskId;
}

/** Reads the task until it is final; `releaseAfterMs` after its job reached fal, the job is let go. */
async function watch(taskId: string, releaseAfterMs: number): Promise<any[]> {
  const reads: any[] = [];
  const submitsBefore = fal.submits.length;
  let processingSince: number | null = null;
  for (;;) {
    const res = await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`);
    expect(res.status).toBe(200);
    const data = res.body.data;
    reads.push(data);
    if (data.state === 'success' || data.state === 'failed') return reads;
    if (data.state === 'processing' && fal.submits.length > submitsBefore) processingSince ??= Date.now();
    if (processingSince !== null && Date.now() - processingSince >= releaseAfterMs) fal.release();
    await sleep(100);
  }
}

describe('estimated progress of an upstream engine', () => {
  it('never decreases, stays at most 95 while running and is 100 at success', async () => {
    fal.hold = true;
    // The first job: no history yet, so no estimate until it is done.
    const first = await submit('upstream progress one');
    const firstReads = await watch(first, 3000);
    expect(firstReads.at(-1).state).toBe('success');
    expect(firstReads.at(-1).progress).toBe(100);
    for (const r of firstReads.filter((r) => r.state !== 'success')) {
      expect(r).not.toHaveProperty('progress');
      expect(r).not.toHaveProperty('etaSeconds');
    }

    // The second job runs about as long again: its estimate climbs against the first's time.
    const second = await submit('upstream progress two');
    const reads = await watch(second, 3000);
    expect(reads.at(-1).state).toBe('success');
    expect(reads.at(-1).progress).toBe(100);
    const running = reads.filter((r) => r.state === 'processing');
    const values = running.filter((r) => r.progress !== undefined).map((r) => r.progress as number);
    expect(new Set(values).size).toBeGreaterThanOrEqual(2);
    for (const v of values) expect(v).toBeLessThanOrEqual(95);
    const all = [...values, 100];
    for (let i = 1; i < all.length; i++) expect(all[i]).toBeGreaterThanOrEqual(all[i - 1]!);
    // With a history the running task also has an estimate of the time left.
    expect(running.some((r) => Number.isInteger(r.etaSeconds) && r.etaSeconds >= 0)).toBe(true);
    await waitForTask(t, 'veo-3-1', second);
  });
});

/**
 * A run that began before there was any history has no progress (its estimate never started), so
 * it has no estimate of the time left either, even once another run has made a history: the
 * median alone would be a constant that never counts down (docs/api.md, estimate).
 */
describe('the estimate of a run that began before any history', () => {
  let t2: TestService;
  beforeAll(async () => {
    t2 = await startTestService({
      LONGSHOT_ENGINES: JSON.stringify({ fal: { type: 'fal', apiKey: fal.apiKey, baseUrl: fal.url, allowPrivate: true } }),
      LONGSHOT_ROUTES: 'official=fal;value=fal;auto=fal',
      LONGSHOT_UPSTREAM_POLL_MS: '40',
      LONGSHOT_UPSTREAM_POLL_MAX_MS: '100',
      LONGSHOT_WORKERS: '2',
    });
  });
  afterAll(async () => {
    fal.release();
    await t2?.close();
  });

  const post = async (prompt: string): Promise<string> => {
    const res = await t2.api('POST', '/api/v1/generateTask/veo-3-1', { body: { input: { prompt, mode: 'fast' } } });
    expect(res.status).toBe(200);
    return res.body.data.taskId;
  };
  const read = async (taskId: string): Promise<any> => (await t2.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`)).body.data;
  /** Reads until `done` holds (at most 30 s). */
  const until = async (taskId: string, done: (data: any) => boolean): Promise<any> => {
    for (let i = 0; i < 300; i++) {
      const data = await read(taskId);
      if (done(data)) return data;
      await sleep(100);
    }
    throw new Error(`task ${taskId} never reached the expected read`);
  };

  it('has neither progress nor etaSeconds while it runs, where a run started with history has both', async () => {
    // The early run: held at fal, started while the history is empty.
    fal.hold = true;
    const submitsBefore = fal.submits.length;
    const early = await post('upstream before history');
    await until(early, (d) => d.state === 'processing' && fal.submits.length > submitsBefore);
    // Another run goes through at once and makes the history.
    fal.hold = false;
    const maker = await post('upstream history maker');
    expect((await waitForTask(t2, 'veo-3-1', maker)).state).toBe('success');
    // A run started now is estimated: that proves the history is there for this process's reads.
    fal.hold = true;
    const late = await post('upstream after history');
    const estimated = await until(late, (d) => d.state === 'processing' && d.progress !== undefined);
    expect(Number.isInteger(estimated.etaSeconds)).toBe(true);

    const data = await read(early);
    expect(data.state).toBe('processing');
    expect(data).not.toHaveProperty('progress');
    expect(data).not.toHaveProperty('etaSeconds');

    fal.release();
    expect((await waitForTask(t2, 'veo-3-1', early)).progress).toBe(100);
    expect((await waitForTask(t2, 'veo-3-1', late)).progress).toBe(100);
  });
});

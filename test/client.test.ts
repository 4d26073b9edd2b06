import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LongshotApiError, LongshotClient, TaskFailedError, type TaskStatus } from '../src/client/index.js';
import { startTestService, type TestService } from './support/service.js';

/**
 * The client against a real service on loopback: the seed page's walkthrough (generate → wait →
 * download → extend → wait), the typed errors, and the balance.
 */
let t: TestService;
let client: LongshotClient;
beforeAll(async () => {
  t = await startTestService();
  // Polling in ms here; the defaults (30 s / 60 s first poll, then 10 s) are tested against a stand-in.
  client = new LongshotClient({ baseUrl: `${t.url}/api/v1`, apiKey: t.key, pollFirstDelayMs: 200, pollIntervalMs: 200 });
});
afterAll(() => t?.close());

/** The first box of an MP4 (ISO BMFF) is `ftyp`: bytes 4..8. */
async function readHead(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(12);
    await fh.read(buf, 0, 12, 0);
    return buf;
  } finally {
    await fh.close();
  }
}

describe('LongshotClient against a running service', () => {
  let source: TaskStatus;
  let sourceBytes = 0;

  it('generates, waits, and downloads an MP4', async () => {
    const taskId = await client.generate({ prompt: 'a calm ocean at sunset', mode: 'fast', seed: 7 });
    expect(taskId).toMatch(/^[0-9a-f]{32}$/);
    const states: string[] = [];
    source = await client.wait('veo-3-1', taskId, { onProgress: (s) => states.push(s.state) });
    expect(source.state).toBe('success');
    expect(states.at(-1)).toBe('success');
    // The raw APIXO fields are kept, and resultJson is parsed for convenience.
    expect(typeof source.resultJson).toBe('string');
    expect(source.resultUrls).toEqual(JSON.parse(source.resultJson!).resultUrls);
    expect(source.resultUrls[0]).toMatch(new RegExp(`^${t.url}/files/results/${taskId}\\.mp4\\?`));
    expect(source.costTime).toBe(source.completeTime! - source.createTime);

    const dir = join(t.dataDir, 'downloads');
    const got = await client.download(source.resultUrls[0]!, join(dir, 'source.mp4'));
    expect(got.contentType).toBe('video/mp4');
    expect((await stat(got.path)).size).toBe(got.bytes);
    expect(got.bytes).toBeGreaterThan(50_000);
    expect((await readHead(got.path)).subarray(4, 8).toString('latin1')).toBe('ftyp');
    // Atomic: no temporary file is left beside the result.
    expect(await readdir(dir)).toEqual(['source.mp4']);
    sourceBytes = got.bytes;
  });

  it('extends the result and waits for the longer video', async () => {
    const taskId = await client.extend(source.taskId, { prompt: 'continue with a smooth camera move', mode: 'fast' });
    const done = await client.wait('veo-3-1-extend', taskId);
    expect(done.state).toBe('success');
    const got = await client.download(done.resultUrls[0]!, join(t.dataDir, 'downloads', 'extended.mp4'));
    expect((await readHead(got.path)).subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(got.bytes).toBeGreaterThan(sourceBytes);
  });

  it('reads the balance: $10 minus two fast tasks', async () => {
    expect(await client.balance()).toBe(9.6);
  });

  it('throws TaskFailedError from wait() when the task fails', async () => {
    // Loopback image URLs are refused by the network guard when the task runs.
    const taskId = await client.generate({
      prompt: 'from a picture',
      mode: 'fast',
      generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO',
      image_urls: ['http://127.0.0.1:9/a.png'],
    });
    const err = await client.wait('veo-3-1', taskId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskFailedError);
    expect((err as TaskFailedError).failCode).toBe('INVALID_IMAGE_URL');
    expect((err as TaskFailedError).task.state).toBe('failed');
    // status() itself reports a failed task as data, not as an exception.
    expect((await client.status('veo-3-1', taskId)).failCode).toBe('INVALID_IMAGE_URL');
  });

  it('turns error envelopes into LongshotApiError with field, failCode and request id', async () => {
    const invalid = await client.generate({ prompt: '   ' }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(LongshotApiError);
    expect(invalid).toMatchObject({ status: 400, field: 'input.prompt' });
    expect((invalid as LongshotApiError).requestId).toBeTruthy();

    const badSource = await client.extend('0'.repeat(32), { prompt: 'more' }).catch((e: unknown) => e);
    expect(badSource).toMatchObject({ status: 400, failCode: 'TASKID_ERROR' });

    const wrongModel = await client.status('veo-3-1-extend', source.taskId).catch((e: unknown) => e);
    expect(wrongModel).toMatchObject({ status: 404 });
  });

  it('does not retry a refused key', async () => {
    const retries: number[] = [];
    const bad = new LongshotClient({ baseUrl: `${t.url}/api/v1`, apiKey: `lsk_${'x'.repeat(43)}`, onRetry: (r) => retries.push(r.attempt) });
    const err = await bad.balance().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LongshotApiError);
    expect((err as LongshotApiError).status).toBe(401);
    expect(retries).toEqual([]);
  });
});

describe('base URLs as people type them', () => {
  // `http://127.0.0.1:3000` is what the server prints; `…/api/v1` is the API root of the docs.
  it.each(['', '/', '/api/v1', '/api/v1/'])('takes the origin followed by %j', async (suffix) => {
    const typed = new LongshotClient({ baseUrl: t.url + suffix, apiKey: t.key });
    expect(typed.baseUrl).toBe(`${t.url}/api/v1`);
    expect(typeof (await typed.balance())).toBe('number');
    // A task that fails when it runs (a loopback image): the submit and status routes are what count here.
    const taskId = await typed.generate({
      prompt: 'from a picture',
      mode: 'fast',
      generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO',
      image_urls: ['http://127.0.0.1:9/a.png'],
    });
    expect((await typed.status('veo-3-1', taskId)).taskId).toBe(taskId);
  });
});

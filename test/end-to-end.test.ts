import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frameHashes, probe } from './support/media.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';

/**
 * The seed page's walkthrough over real HTTP: generate → poll → download → ffprobe; extend →
 * poll → download a longer file whose first 8 s are the source's frames.
 */
let t: TestService;
beforeAll(async () => {
  t = await startTestService();
});
afterAll(() => t?.close());

async function download(url: string, name: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('video/mp4');
  const path = join(t.dataDir, name);
  await writeFile(path, Buffer.from(await res.arrayBuffer()));
  return path;
}

describe('generate and extend over HTTP', () => {
  let sourceId = '';
  let sourcePath = '';

  it('generates an 8 s 1280×720 H.264/AAC video', async () => {
    const submit = await t.api('POST', '/api/v1/generateTask/veo-3-1', {
      body: { request_type: 'async', input: { prompt: 'a calm ocean at sunset', mode: 'fast', seed: 7 } },
    });
    expect(submit.status).toBe(200);
    sourceId = submit.body.data.taskId;
    const data = await waitForTask(t, 'veo-3-1', sourceId);
    expect(data.state, JSON.stringify(data)).toBe('success');
    expect(data.costTime).toBe(data.completeTime - data.createTime);
    expect(data.posterUrl).toMatch(new RegExp(`^${t.url}/files/results/${sourceId}\\.jpg\\?expires=`));
    const { resultUrls } = JSON.parse(data.resultJson);
    expect(resultUrls).toHaveLength(1);
    expect(resultUrls[0]).toMatch(new RegExp(`^${t.url}/files/results/${sourceId}\\.mp4\\?expires=\\d+&sig=`));
    sourcePath = await download(resultUrls[0], 'source.mp4');
    const info = await probe(sourcePath);
    expect(info.video.codec).toBe('h264');
    expect([info.video.width, info.video.height]).toEqual([1280, 720]);
    expect(info.video.fps).toBeCloseTo(24, 3);
    expect(info.audio?.codec).toBe('aac');
    expect(Math.abs(info.durationSec - 8)).toBeLessThanOrEqual(0.1);
  });

  it('extends it to 15 s whose first 8 s are the source frames', async () => {
    const submit = await t.api('POST', '/api/v1/generateTask/veo-3-1-extend', {
      body: { request_type: 'async', input: { taskId: sourceId, mode: 'fast', prompt: 'continue with a smooth camera move' } },
    });
    expect(submit.status, JSON.stringify(submit.body)).toBe(200);
    const id = submit.body.data.taskId;
    // Asked under the wrong model, the task does not exist.
    expect((await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${id}`)).status).toBe(404);
    const data = await waitForTask(t, 'veo-3-1-extend', id);
    expect(data.state, JSON.stringify(data)).toBe('success');
    const path = await download(JSON.parse(data.resultJson).resultUrls[0], 'extended.mp4');
    const info = await probe(path);
    expect([info.video.width, info.video.height]).toEqual([1280, 720]);
    expect(Math.abs(info.durationSec - 15)).toBeLessThanOrEqual(0.1);
    const src = await frameHashes(sourcePath);
    const ext = await frameHashes(path);
    expect(src.length).toBe(192);
    expect(ext.slice(0, src.length)).toEqual(src);
  });

  it('charges the price of each successful task exactly once', async () => {
    // $10 − $0.20 (generate fast) − $0.20 (extend fast)
    expect((await t.api('GET', '/api/v1/apikeys/current-balance')).body.data).toBe(9.6);
  });

  it('renders 9:16 at 720×1280', async () => {
    const { taskId } = (await t.api('POST', '/api/v1/generateTask/veo-3-1', { body: { input: { prompt: 'night city', mode: 'fast', aspect_ratio: '9:16' } } }))
      .body.data;
    const data = await waitForTask(t, 'veo-3-1', taskId);
    expect(data.state).toBe('success');
    const info = await probe(await download(JSON.parse(data.resultJson).resultUrls[0], 'portrait.mp4'));
    expect([info.video.width, info.video.height]).toEqual([720, 1280]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteExpiredResults } from '../src/worker/maintenance.js';
import { shiftClock, startTestService, type TestService, waitForTask } from './support/service.js';

/** docs/contract.md §8: signed URLs, Range, HEAD, ETag, 403 when expired or forged, 410 once deleted. */
let t: TestService;
let url = '';
let taskId = '';
let time: { offset: number };

beforeAll(async () => {
  t = await startTestService();
  time = shiftClock(t);
  taskId = (await t.api('POST', '/api/v1/generateTask/veo-3-1', { body: { input: { prompt: 'forest', mode: 'fast', seed: 3 } } })).body.data.taskId;
  const data = await waitForTask(t, 'veo-3-1', taskId);
  url = JSON.parse(data.resultJson).resultUrls[0];
});
afterAll(() => t?.close());

describe('result files', () => {
  it('serves the whole file with ETag and Accept-Ranges, and HEAD without a body', async () => {
    const full = await fetch(url);
    expect(full.status).toBe(200);
    const bytes = Buffer.from(await full.arrayBuffer());
    expect(Number(full.headers.get('content-length'))).toBe(bytes.length);
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    const etag = full.headers.get('etag');
    expect(etag).toBeTruthy();
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(bytes.length);
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    const cached = await fetch(url, { headers: { 'if-none-match': etag! } });
    expect(cached.status).toBe(304);
    await cached.arrayBuffer();
  });

  it('serves byte ranges, suffix ranges and refuses unsatisfiable ones with 416', async () => {
    const full = Buffer.from(await (await fetch(url)).arrayBuffer());
    const part = await fetch(url, { headers: { range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 10-19/${full.length}`);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(full.subarray(10, 20));
    const tail = await fetch(url, { headers: { range: 'bytes=-5' } });
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(full.subarray(full.length - 5));
    const bad = await fetch(url, { headers: { range: `bytes=${full.length + 10}-` } });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe(`bytes */${full.length}`);
    await bad.arrayBuffer();
    const stale = await fetch(url, { headers: { range: 'bytes=0-0', 'if-range': '"other"' } });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();
  });

  it('revalidates with an If-None-Match list, * or a weak tag (weak comparison)', async () => {
    const etag = (await fetch(url, { method: 'HEAD' })).headers.get('etag')!;
    for (const inm of [`"nope", ${etag}`, '*', `W/${etag}`, `W/"nope",W/${etag}`]) {
      const res = await fetch(url, { headers: { 'if-none-match': inm } });
      expect(res.status, inm).toBe(304);
      expect(res.headers.get('etag')).toBe(etag);
      await res.arrayBuffer();
    }
    const other = await fetch(url, { headers: { 'if-none-match': '"nope", W/"other"' } });
    expect(other.status).toBe(200);
    await other.arrayBuffer();
  });

  it('ignores an invalid range (first > last) and honours If-Range only on a strong match', async () => {
    const full = Buffer.from(await (await fetch(url)).arrayBuffer());
    const etag = (await fetch(url, { method: 'HEAD' })).headers.get('etag')!;
    const invalid = await fetch(url, { headers: { range: 'bytes=10-5' } });
    expect(invalid.status).toBe(200);
    expect(Buffer.from(await invalid.arrayBuffer()).equals(full)).toBe(true); // toEqual on a whole MP4 is slow
    const matching = await fetch(url, { headers: { range: 'bytes=0-3', 'if-range': etag } });
    expect(matching.status).toBe(206);
    await matching.arrayBuffer();
    // If-Range compares strongly: a weak tag, or a date (no Last-Modified is sent), gets the whole file.
    for (const ifRange of [`W/${etag}`, new Date().toUTCString()]) {
      const res = await fetch(url, { headers: { range: 'bytes=0-3', 'if-range': ifRange } });
      expect(res.status, ifRange).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).length).toBe(full.length);
    }
  });

  it('serves the poster beside the video', async () => {
    const status = await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`);
    const video = JSON.parse(status.body.data.resultJson).resultUrls[0] as string;
    const poster = status.body.data.posterUrl as string;
    const res = await fetch(poster);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(video).not.toBe(poster);
  });

  it('403 in the envelope for a forged or missing signature', async () => {
    const forged = url.replace(/sig=[^&]+/, 'sig=AAAA');
    const res = await fetch(forged);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: 403, message: 'Forbidden' });
    expect((await fetch(url.split('?')[0]!)).status).toBe(403);
  });

  it('403 once the URL is past 24 h, while a fresh status call signs a working URL', async () => {
    time.offset = 25 * 3600_000;
    const res = await fetch(url);
    expect(res.status).toBe(403);
    expect(((await res.json()) as any).data.error).toMatch(/expired/);
    const fresh = JSON.parse((await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`)).body.data.resultJson).resultUrls[0];
    expect(fresh).not.toBe(url);
    expect((await fetch(fresh)).status).toBe(200);
  });

  it('410 after retention deletes the file, and extend then answers TASKID_ERROR', async () => {
    time.offset = 8 * 86_400_000; // default retention is 7 days
    expect(await deleteExpiredResults(t.service.deps)).toBeGreaterThanOrEqual(1);
    const fresh = JSON.parse((await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`)).body.data.resultJson).resultUrls[0];
    const res = await fetch(fresh);
    expect(res.status).toBe(410);
    expect(await res.json()).toMatchObject({ code: 410 });
    const ext = await t.api('POST', '/api/v1/generateTask/veo-3-1-extend', { body: { input: { taskId, prompt: 'more' } } });
    expect(ext.status).toBe(400);
    expect(ext.body.data.failCode).toBe('TASKID_ERROR');
  });
});

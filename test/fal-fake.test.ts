import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { ApiError, createFalClient, type FalClient, type QueueStatus, ValidationError } from '@fal-ai/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveFfmpeg } from '../src/engines/ffmpeg.js';
import { type FakeFal, startFakeFal } from './support/fake-fal.js';
import { veoClip } from './support/fake-vertex-media.js';
import { probe } from './support/media.js';

/**
 * The fake fal queue (test/support/fake-fal.ts) proved against fal's own JavaScript client,
 * `@fal-ai/client`, pointed at the fake through its `requestMiddleware` (which rewrites the
 * https://queue.fal.run and https://rest.fal.ai URLs it builds) or its `proxyUrl` setting. The
 * client builds the status / result / cancel URLs itself from the app id, so `seen` records the
 * URLs it meant to call, before the rewrite.
 */
const run = promisify(execFile);
let fake: FakeFal;
let fal: FalClient;
let dir: string;
const seen: string[] = [];
const FAST = 'fal-ai/veo3.1/fast';

function client(credentials: string): FalClient {
  return createFalClient({
    credentials,
    requestMiddleware: async (req) => {
      seen.push(`${req.method} ${req.url}`);
      return { ...req, url: req.url.replace(/^https:\/\/(queue\.fal\.run|rest\.fal\.ai)/, fake.url) };
    },
  });
}

const dataUri = (mime: string, bytes: Buffer): string => `data:${mime};base64,${bytes.toString('base64')}`;
const key = (): Record<string, string> => ({ authorization: `Key ${fake.apiKey}`, 'content-type': 'application/json' });
const rawSubmit = (endpoint: string, input: unknown): Promise<Response> =>
  fetch(`${fake.url}/${endpoint}`, { method: 'POST', headers: key(), body: JSON.stringify(input) });

async function png(width: number, height: number): Promise<Buffer> {
  const out = join(dir, `${width}x${height}.png`);
  await run(resolveFfmpeg(), ['-nostdin', '-v', 'error', '-f', 'lavfi', '-i', `color=c=0x336699:size=${width}x${height}`, '-frames:v', '1', '-y', out]);
  return readFile(out);
}

async function download(url: string): Promise<Awaited<ReturnType<typeof probe>>> {
  expect(url.startsWith(`${fake.url}/files/`)).toBe(true);
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('video/mp4');
  const path = join(dir, `${Math.random().toString(36).slice(2)}.mp4`);
  await writeFile(path, Buffer.from(await res.arrayBuffer()));
  return probe(path);
}

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<ApiError<any>> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError<any>;
}

beforeAll(async () => {
  [fake, dir] = await Promise.all([startFakeFal(), mkdtemp(join(tmpdir(), 'fal-fake-test-'))]);
  fal = client(fake.apiKey);
});

afterAll(async () => {
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the fake fal queue, through @fal-ai/client', () => {
  it('submits, walks IN_QUEUE → IN_PROGRESS → COMPLETED and serves an 8 s H.264/AAC MP4', async () => {
    const input = { prompt: 'a lighthouse at dusk', aspect_ratio: '16:9', duration: '8s', resolution: '720p', generate_audio: true, seed: 7 } as const;
    const submitted = await fal.queue.submit(FAST, { input });
    const id = submitted.request_id;
    expect(submitted).toMatchObject({ status: 'IN_QUEUE', queue_position: 1, status_url: `${fake.url}/fal-ai/veo3.1/requests/${id}/status` });
    expect(seen).toContain('POST https://queue.fal.run/fal-ai/veo3.1/fast');
    expect(fake.submits.at(-1)).toEqual({ endpoint: FAST, body: input, inputVideoSeconds: null });

    const states: QueueStatus[] = [];
    for (let i = 0; i < 3; i++) states.push(await fal.queue.status(FAST, { requestId: id, logs: true }));
    expect(states.map((s) => s.status)).toEqual(['IN_QUEUE', 'IN_PROGRESS', 'COMPLETED']);
    expect(states[0]).toMatchObject({ queue_position: 0, request_id: id });
    expect(states[1]).toMatchObject({ logs: [expect.objectContaining({ level: 'INFO' })] });
    expect(states[2]).toMatchObject({ metrics: { inference_time: expect.any(Number) } });
    expect(states[2]).not.toHaveProperty('error_type');
    // The status and result URLs name the app (fal-ai/veo3.1), not the endpoint's subpath.
    expect(seen).toContain(`GET https://queue.fal.run/fal-ai/veo3.1/requests/${id}/status?logs=1`);

    const { data, requestId } = await fal.queue.result(FAST, { requestId: id });
    expect(requestId).toBe(id);
    expect(seen).toContain(`GET https://queue.fal.run/fal-ai/veo3.1/requests/${id}`);
    expect(data.video).toMatchObject({ content_type: 'video/mp4', file_name: `${id}.mp4`, file_size: expect.any(Number) });
    const info = await download(data.video.url);
    expect(info.durationSec).toBeGreaterThan(7.9);
    expect(info.durationSec).toBeLessThan(8.2);
    expect(info.video).toMatchObject({ codec: 'h264', width: 1280, height: 720 });
    expect(info.audio?.codec).toBe('aac');
  });

  it('runs fal.subscribe end to end for a 9:16 clip', async () => {
    const updates: string[] = [];
    let enqueued = '';
    const { data, requestId } = await fal.subscribe('fal-ai/veo3.1', {
      input: { prompt: 'a tall waterfall', aspect_ratio: '9:16' },
      pollInterval: 20,
      onEnqueue: (id) => {
        enqueued = id;
      },
      onQueueUpdate: (s) => void (updates.at(-1) !== s.status && updates.push(s.status)),
    });
    expect(requestId).toBe(enqueued);
    // IN_PROGRESS lasts while the clip renders, however many polls that takes.
    expect(updates).toEqual(['IN_QUEUE', 'IN_PROGRESS', 'COMPLETED']);
    expect((await download(data.video.url)).video).toMatchObject({ width: 720, height: 1280 });
  });

  it('takes an image as a data URI, and refuses one that does not decode at the result', async () => {
    const image = dataUri('image/png', await png(720, 1280));
    const { data } = await fal.subscribe('fal-ai/veo3.1/fast/image-to-video', { input: { prompt: 'the sky moves', image_url: image }, pollInterval: 20 });
    expect(fake.submits.at(-1)?.body.image_url).toBe(image); // the client passes data URIs through
    // aspect_ratio "auto" follows the portrait image.
    expect((await download(data.video.url)).video).toMatchObject({ width: 720, height: 1280 });

    const err = await rejection(
      fal.subscribe('fal-ai/veo3.1/image-to-video', { input: { prompt: 'x', image_url: 'data:image/png;base64,AAAA' }, pollInterval: 20 }),
    );
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).fieldErrors[0]).toMatchObject({ loc: ['body', 'image_url'], type: 'image_load_error' });
  });

  it('uploads a Blob input through fal.storage and reads it back from the CDN', async () => {
    const bytes = await png(1280, 720);
    const url = await fal.storage.upload(new Blob([new Uint8Array(bytes)], { type: 'image/png' }));
    expect(seen).toContain('POST https://rest.fal.ai/storage/upload/initiate?storage_type=fal-cdn-v3');
    expect(Buffer.from(await (await fetch(url)).arrayBuffer()).equals(bytes)).toBe(true);
    // A Blob in the input is uploaded by the client, which submits its URL.
    const { data } = await fal.subscribe('fal-ai/veo3.1/first-last-frame-to-video', {
      input: {
        prompt: 'from dawn to dusk',
        first_frame_url: new Blob([new Uint8Array(bytes)], { type: 'image/png' }),
        last_frame_url: dataUri('image/png', bytes),
      },
      pollInterval: 20,
    });
    expect(fake.submits.at(-1)?.body.first_frame_url).toMatch(new RegExp(`^${fake.url}/files/`));
    expect((await download(data.video.url)).video).toMatchObject({ width: 1280, height: 720 });
  });

  it('extends an 8 s clip to the input followed by 7 s, and refuses inputs over 8 s', async () => {
    const clip8 = await readFile(await veoClip({ width: 1280, height: 720, seconds: 8, audio: true }));
    const { data } = await fal.subscribe('fal-ai/veo3.1/fast/extend-video', {
      input: { prompt: 'the camera pulls back', video_url: dataUri('video/mp4', clip8) },
      pollInterval: 20,
    });
    expect(fake.submits.at(-1)?.inputVideoSeconds).toBeCloseTo(8, 0);
    const info = await download(data.video.url);
    expect(info.durationSec).toBeGreaterThan(14.8);
    expect(info.durationSec).toBeLessThan(15.3);
    expect(info.video).toMatchObject({ width: 1280, height: 720 });

    const clip12 = await readFile(await veoClip({ width: 1280, height: 720, seconds: 12, audio: true }));
    const long = await rejection(
      fal.subscribe('fal-ai/veo3.1/extend-video', {
        input: { prompt: 'more', video_url: dataUri('video/mp4', clip12) },
        pollInterval: 20,
      }),
    );
    expect(long).toBeInstanceOf(ValidationError);
    expect(long.status).toBe(422);
    expect(long.body.detail[0]).toMatchObject({ loc: ['body', 'video_url'], type: 'video_duration_too_long', ctx: { max_duration: 8 } });
    expect(fake.submits.at(-1)?.inputVideoSeconds).toBeCloseTo(12, 0);

    // The fake's own file URL is a valid input too; the 15 s extension is itself too long.
    const chained = await rejection(fal.subscribe(`${FAST}/extend-video`, { input: { prompt: 'again', video_url: data.video.url }, pollInterval: 20 }));
    expect(chained.body.detail[0].type).toBe('video_duration_too_long');
  });

  it('surfaces validation: fake:422 at submit, a bad field only when the result is read', async () => {
    const before = fake.submits.length;
    const atSubmit = await rejection(fal.queue.submit(FAST, { input: { prompt: 'fake:422 please' } }));
    expect(atSubmit).toBeInstanceOf(ValidationError);
    expect((atSubmit as ValidationError).getFieldErrors('prompt')[0]?.type).toBe('value_error');
    expect(fake.submits.length).toBe(before);

    const err = await rejection(fal.subscribe('fal-ai/veo3.1', { input: { prompt: 'a cat', duration: '5s' as '8s' }, pollInterval: 20 }));
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).getFieldErrors('duration')[0]).toMatchObject({ type: 'literal_error', msg: "Input should be '4s', '6s' or '8s'" });
    expect(fake.submits.at(-1)?.body.duration).toBe('5s'); // the queue took it
  });

  it('completes a flagged prompt and answers its result with content_policy_violation', async () => {
    const updates: QueueStatus[] = [];
    const err = await rejection(
      fal.subscribe(FAST, { input: { prompt: 'fake:content a beach' }, pollInterval: 20, onQueueUpdate: (s) => void updates.push(s) }),
    );
    expect(updates.at(-1)?.status).toBe('COMPLETED');
    expect(updates.at(-1)).not.toHaveProperty('error');
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.status).toBe(422);
    expect(err.body.detail[0]).toMatchObject({
      loc: ['body', 'prompt'],
      type: 'content_policy_violation',
      url: 'https://docs.fal.ai/errors#content_policy_violation',
    });
  });

  it('reports a failed request in the COMPLETED status and a 500 result', async () => {
    const updates: QueueStatus[] = [];
    const err = await rejection(fal.subscribe(FAST, { input: { prompt: 'fake:fail' }, pollInterval: 20, onQueueUpdate: (s) => void updates.push(s) }));
    expect(updates.at(-1)).toMatchObject({ status: 'COMPLETED', error: 'Internal server error', error_type: 'runner_server_error' });
    expect(err).not.toBeInstanceOf(ValidationError);
    expect(err.status).toBe(500);
    expect(err.body).toEqual({ detail: 'Internal server error', error_type: 'runner_server_error' });
  });

  it('cancels a held request', async () => {
    fake.hold = true;
    const a = await fal.queue.submit(FAST, { input: { prompt: 'held a' } });
    const b = await fal.queue.submit(FAST, { input: { prompt: 'held b' } });
    fake.hold = false;
    expect(await fal.queue.status(FAST, { requestId: a.request_id })).toMatchObject({ status: 'IN_QUEUE', queue_position: 0 });
    const put = await fetch(a.cancel_url, { method: 'PUT', headers: key() });
    expect(put.status).toBe(202);
    expect(await put.json()).toEqual({ status: 'CANCELLATION_REQUESTED' });
    expect(await fal.queue.status(FAST, { requestId: a.request_id })).toMatchObject({ status: 'COMPLETED', error_type: 'client_cancelled' });
    expect((await rejection(fal.queue.result(FAST, { requestId: a.request_id }))).status).toBe(499);
    const again = await rejection(fal.queue.cancel(FAST, { requestId: a.request_id }));
    expect([again.status, again.body]).toEqual([400, { status: 'ALREADY_COMPLETED' }]);

    await fal.queue.cancel(FAST, { requestId: b.request_id });
    expect(seen).toContain(`PUT https://queue.fal.run/fal-ai/veo3.1/requests/${b.request_id}/cancel`);
    const unknown = await rejection(fal.queue.cancel(FAST, { requestId: '00000000-0000-0000-0000-000000000000' }));
    expect([unknown.status, unknown.body]).toEqual([404, { status: 'NOT_FOUND' }]);
    fake.release();
  });

  it('answers a wrong or malformed key with 401', async () => {
    const before = fake.unauthorized;
    const wrong = await rejection(client('other-id:other-secret').queue.submit(FAST, { input: { prompt: 'x' } }));
    expect([wrong.status, wrong.body]).toEqual([401, { detail: 'No user found for Key ID and Secret' }]);
    const malformed = await rejection(client('just-a-string').queue.status(FAST, { requestId: 'x' }));
    expect(malformed.status).toBe(401);
    expect(malformed.body.detail).toMatch(/Expected '<key_id>:<key_secret>'/);
    expect(fake.unauthorized).toBe(before + 2);
  });

  it('works through the proxyUrl setting (x-fal-target-url)', async () => {
    const proxied = createFalClient({ credentials: fake.apiKey, proxyUrl: { url: `${fake.url}/api/fal/proxy`, when: 'always' } });
    const { request_id } = await proxied.queue.submit(FAST, { input: { prompt: 'through a proxy' } });
    expect((await proxied.queue.status(FAST, { requestId: request_id })).status).toBe('IN_QUEUE');
  });
});

describe('the fake fal queue over plain HTTP', () => {
  it('answers fake:500 and fake:429 submits, unknown endpoints and fake:statusfail polls', async () => {
    const r500 = await rawSubmit(FAST, { prompt: 'fake:500' });
    expect(r500.status).toBe(500);
    expect(r500.headers.get('x-fal-error-type')).toBe('internal_error');
    expect(await r500.json()).toEqual({ detail: 'Internal server error', error_type: 'internal_error' });
    expect((await rawSubmit(FAST, { prompt: 'fake:429' })).status).toBe(429);
    expect((await rawSubmit('fal-ai/veo3.1/fast/reference-to-video', { prompt: 'x', image_urls: ['https://example.com/a.png'] })).status).toBe(404);

    const sub = (await (await rawSubmit(FAST, { prompt: 'fake:statusfail' })).json()) as { status_url: string };
    expect((await fetch(sub.status_url, { headers: key() })).status).toBe(500);
  });

  it('keeps fake:never IN_PROGRESS (202) and refuses its result while it runs', async () => {
    const sub = (await (await rawSubmit(FAST, { prompt: 'fake:never' })).json()) as { status_url: string; response_url: string };
    const codes: Array<[number, string]> = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(sub.status_url, { headers: key() });
      codes.push([res.status, ((await res.json()) as { status: string }).status]);
      await sleep(5);
    }
    expect(codes).toEqual([
      [202, 'IN_QUEUE'],
      [202, 'IN_PROGRESS'],
      [202, 'IN_PROGRESS'],
      [202, 'IN_PROGRESS'],
      [202, 'IN_PROGRESS'],
    ]);
    const early = await fetch(sub.response_url, { headers: key() });
    expect(early.status).toBe(400);
  });

  it('answers every queue request with alwaysStatus', async () => {
    fake.alwaysStatus = 503;
    try {
      expect((await rawSubmit(FAST, { prompt: 'x' })).status).toBe(503);
    } finally {
      fake.alwaysStatus = null;
    }
  });
});

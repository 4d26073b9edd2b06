import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTasks } from '../src/cli/tasks.js';
import { runTask } from '../src/services/run-task.js';
import { type FakeGemini, startFakeGemini } from './support/fake-gemini.js';
import { type ImageServer, startImageServer } from './support/image-server.js';
import { killWhileWaiting } from './support/kill-resume.js';
import { probe } from './support/media.js';
import { removeDataDir, startTestService, type TestService, waitForTask } from './support/service.js';

/**
 * Veo 3.1 through the Gemini API engine, end to end: the service talks real HTTP to a fake
 * Gemini API (test/support/fake-gemini.ts) that speaks Google's documented REST shapes.
 */
let fake: FakeGemini;
let broken: FakeGemini;
let t: TestService;
let images: ImageServer;
let imageDir: string;
let imagesUrl: string;

function geminiEnv(): Record<string, string> {
  return {
    GEMINI_API_KEY: fake.apiKey,
    LONGSHOT_GEMINI_BASE_URL: fake.url,
    // A second Gemini-type instance on an upstream that answers 500 to everything: the `value` route.
    LONGSHOT_ENGINES: JSON.stringify({ cheap: { type: 'gemini', baseUrl: broken.url } }),
    LONGSHOT_ROUTES: 'official=gemini;value=cheap;auto=value,official',
    LONGSHOT_GEMINI_POLL_MS: '40',
    LONGSHOT_GEMINI_POLL_MAX_MS: '100',
    LONGSHOT_GEMINI_RETRY_MS: '20',
    LONGSHOT_GEMINI_RETRIES: '2',
    LONGSHOT_GEMINI_DEADLINE_SECONDS: '3',
    // No overdue wait: `fake:never` times out at the deadline (test/upstream-late.test.ts covers the wait).
    LONGSHOT_UPSTREAM_HARD_LIMIT_SECONDS: '3',
    LONGSHOT_ALLOW_PRIVATE_IMAGE_URLS: 'true',
    LONGSHOT_WORKERS: '4',
  };
}

beforeAll(async () => {
  [fake, broken] = await Promise.all([startFakeGemini(), startFakeGemini()]);
  broken.alwaysStatus = 500;
  images = await startImageServer();
  imageDir = images.dir;
  imagesUrl = images.url;
  t = await startTestService(geminiEnv());
});

afterAll(async () => {
  await t?.close();
  await fake?.close();
  await broken?.close();
  await images?.close();
});

async function submit(model: 'veo-3-1' | 'veo-3-1-extend', body: unknown, svc: TestService = t): Promise<string> {
  const res = await svc.api('POST', `/api/v1/generateTask/${model}`, { body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.taskId;
}

async function taskRow(id: string, svc: TestService = t) {
  return svc.service.deps.db.kysely.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

async function upstreamRow(id: string, svc: TestService = t) {
  return svc.service.deps.db.kysely.selectFrom('task_upstream').selectAll().where('task_id', '=', id).executeTakeFirst();
}

async function balance(svc: TestService = t): Promise<number> {
  return (await svc.api('GET', '/api/v1/apikeys/current-balance')).body.data;
}

async function download(url: string, name: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  const path = join(t.dataDir, name);
  await writeFile(path, Buffer.from(await res.arrayBuffer()));
  return path;
}

const submitsFor = (f: FakeGemini, prompt: string) => f.submits.filter((s) => s.body.instances[0].prompt === prompt);

describe('the gemini engine', () => {
  let sourceId = '';
  let sourceUri = '';
  let extendId = '';

  it('generates text to video on Veo and stores the video, the poster and the upstream handle', async () => {
    const prompt = 'a lighthouse in a storm';
    sourceId = await submit('veo-3-1', { provider: 'official', input: { prompt, mode: 'fast', seed: 42 } });
    const data = await waitForTask(t, 'veo-3-1', sourceId);
    expect(data.state, JSON.stringify(data)).toBe('success');

    const sent = submitsFor(fake, prompt);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.model).toBe('veo-3.1-fast-generate-preview');
    expect(sent[0]!.body).toEqual({ instances: [{ prompt }], parameters: { aspectRatio: '16:9', resolution: '720p', durationSeconds: 8 } });
    expect(JSON.stringify(sent[0]!.body)).not.toContain('seed');

    const info = await probe(await download(JSON.parse(data.resultJson).resultUrls[0], 'gen.mp4'));
    expect([info.video.width, info.video.height]).toEqual([1280, 720]);
    expect(Math.abs(info.durationSec - 8)).toBeLessThanOrEqual(0.1);
    const poster = await fetch(data.posterUrl);
    expect(poster.headers.get('content-type')).toBe('image/jpeg');

    expect((await taskRow(sourceId)).engine).toBe('gemini');
    const up = await upstreamRow(sourceId);
    expect(up?.engine).toBe('gemini');
    expect(up?.video).toMatch(/^https:\/\/generativelanguage\.googleapis\.com\/v1beta\/files\/.+:download\?alt=media$/);
    sourceUri = up!.video!;
    expect(fake.unauthorized).toBe(0);
  });

  it('sends first and last frames inline as base64, on the quality model', async () => {
    const prompt = 'from red to blue';
    const id = await submit('veo-3-1', {
      provider: 'official',
      input: {
        prompt,
        mode: 'quality',
        generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO',
        image_urls: [`${imagesUrl}/first.png`, `${imagesUrl}/last.png`],
        watermark: 'LONGSHOT',
      },
    });
    expect((await waitForTask(t, 'veo-3-1', id)).state).toBe('success');
    const [sent] = submitsFor(fake, prompt);
    expect(sent!.model).toBe('veo-3.1-generate-preview');
    const inst = sent!.body.instances[0];
    // What is sent is sharp's re-encode of each download (src/net/clean-image.ts): the same pixels.
    for (const [field, name] of [
      ['image', 'first.png'],
      ['lastFrame', 'last.png'],
    ] as const) {
      expect(inst[field].mimeType, field).toBe('image/png');
      const sentPixels = await sharp(Buffer.from(inst[field].bytesBase64Encoded, 'base64')).raw().toBuffer();
      expect(
        sentPixels.equals(
          await sharp(await readFile(join(imageDir, name)))
            .raw()
            .toBuffer(),
        ),
        field,
      ).toBe(true);
    }
    expect(inst.referenceImages).toBeUndefined();
    // The watermark is ours to draw, never sent upstream.
    expect(JSON.stringify(sent!.body)).not.toContain('LONGSHOT');
  });

  it('sends reference images as assets', async () => {
    const prompt = 'the same character walks';
    const id = await submit('veo-3-1', {
      provider: 'official',
      input: { prompt, mode: 'fast', generationType: 'REFERENCE_2_VIDEO', image_urls: [`${imagesUrl}/ref.jpg`, `${imagesUrl}/first.png`] },
    });
    expect((await waitForTask(t, 'veo-3-1', id)).state).toBe('success');
    const inst = submitsFor(fake, prompt)[0]!.body.instances[0];
    expect(inst.referenceImages.map((r: any) => [r.referenceType, r.image.mimeType])).toEqual([
      ['asset', 'image/jpeg'],
      ['asset', 'image/png'],
    ]);
    expect(inst.image).toBeUndefined();
  });

  it("extends its own video by sending Google's video handle back", async () => {
    const prompt = 'the storm clears';
    const id = await submit('veo-3-1-extend', { provider: 'official', input: { taskId: sourceId, prompt } });
    extendId = id;
    const data = await waitForTask(t, 'veo-3-1-extend', id);
    expect(data.state, JSON.stringify(data)).toBe('success');
    const [sent] = submitsFor(fake, prompt);
    expect(sent!.body.instances[0]).toEqual({ prompt, video: { uri: sourceUri } });
    const info = await probe(await download(JSON.parse(data.resultJson).resultUrls[0], 'ext.mp4'));
    expect(Math.abs(info.durationSec - 15)).toBeLessThanOrEqual(0.1);
    expect((await taskRow(id)).engine).toBe('gemini');
  });

  it('refuses to extend once Google no longer keeps the source (400 TASKID_ERROR, nothing held)', async () => {
    await t.service.deps.db.kysely
      .updateTable('tasks')
      .set({ complete_time: Date.now() - 3 * 86_400_000 })
      .where('id', '=', sourceId)
      .execute();
    const before = await balance();
    const submitsBefore = fake.submits.length;
    const res = await t.api('POST', '/api/v1/generateTask/veo-3-1-extend', { body: { provider: 'official', input: { taskId: sourceId, prompt: 'too late' } } });
    expect(res.status).toBe(400);
    expect(res.body.data).toMatchObject({ failCode: 'TASKID_ERROR', field: 'input.taskId' });
    expect(res.body.data.error).toMatch(/no engine of provider official can extend/);
    expect(fake.submits.length).toBe(submitsBefore);
    expect(await balance()).toBe(before);

    // A task accepted while the source was extendable, run after it stopped being so.
    const run = await runTask(t.service.deps, await taskRow(extendId), new AbortController().signal);
    expect(run).toMatchObject({ kind: 'failed', failure: { failCode: 'TASKID_ERROR', retryable: false } });
    expect(fake.submits.length).toBe(submitsBefore);
  });

  it('fails over from a failing value route to official on auto', async () => {
    const prompt = 'failover please';
    const before = broken.submitRequests;
    const id = await submit('veo-3-1', { provider: 'auto', input: { prompt, mode: 'fast' } });
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data.state, JSON.stringify(data)).toBe('success');
    // One try and two retries on the broken upstream, then the official one.
    expect(broken.submitRequests - before).toBe(3);
    expect(submitsFor(fake, prompt)).toHaveLength(1);
    expect((await taskRow(id)).engine).toBe('gemini');

    // The operator sees which engine served it.
    let out = '';
    const database = t.config.databaseUrl ? { DATABASE_URL: t.config.databaseUrl } : {};
    const io = { env: { LONGSHOT_DATA_DIR: t.dataDir, LONGSHOT_LOG_LEVEL: 'error', ...database }, out: (s: string) => (out += s), err: () => undefined };
    expect(await runTasks(['show', id, '--json'], io)).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ taskId: id, provider: 'auto', engine: 'gemini', state: 'success' });
  });

  it('maps every upstream failure to its fail code and releases the hold', async () => {
    const before = await balance();
    const cases: Array<[string, string | null]> = [
      ['fake:rai a scene', 'CONTENT_VIOLATION'],
      ['fake:400 a scene', 'INVALID_PARAMETER'],
      ['fake:error3 a scene', 'INVALID_PARAMETER'],
      ['fake:429 a scene', 'UPSTREAM_ERROR'],
      ['fake:500 a scene', 'UPSTREAM_ERROR'],
      ['fake:error13 a scene', 'UPSTREAM_ERROR'],
      ['fake:poll500 a scene', 'UPSTREAM_ERROR'],
      ['fake:never a scene', 'TIMEOUT'],
      ['fake:429once a scene', null],
    ];
    const ids = await Promise.all(cases.map(([prompt]) => submit('veo-3-1', { provider: 'official', input: { prompt, mode: 'fast' } })));
    const results = await Promise.all(ids.map((id) => waitForTask(t, 'veo-3-1', id)));
    expect(results.map((r) => r.failCode ?? null)).toEqual(cases.map(([, code]) => code));
    for (const r of results.filter((x) => x.state === 'failed')) expect(r.failMsg).toBeTruthy();
    expect((await taskRow(ids[0]!)).engine).toBe('gemini');
    // Only the one success is charged ($0.20 fast); every failure released its hold.
    expect(Math.round((before - (await balance())) * 100) / 100).toBe(0.2);
  });
});

describe('restarts', () => {
  it('resume the saved operation and never submit twice', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'longshot-gemini-restart-'));
    const prompt = 'a restart in the middle';
    let second: TestService | null = null;
    const first = await startTestService(geminiEnv(), { dataDir });
    try {
      fake.hold = true;
      const brokenBefore = broken.submitRequests;
      // auto: the `value` instance fails first (three tries), then `official` submits and waits.
      const id = await submit('veo-3-1', { provider: 'auto', input: { prompt, mode: 'fast' } }, first);
      // Wait until the operation is saved and being polled.
      for (let i = 0; i < 200 && !(await upstreamRow(id, first))?.ref; i++) await new Promise((r) => setTimeout(r, 25));
      const pollsAtSave = fake.polls;
      for (let i = 0; i < 200 && fake.polls === pollsAtSave; i++) await new Promise((r) => setTimeout(r, 25));
      expect((await upstreamRow(id, first))?.ref).toContain('operations/');
      await first.close();
      fake.hold = false;
      fake.release();

      second = await startTestService(geminiEnv(), { dataDir });
      const data = await waitForTask(second, 'veo-3-1', id, first.key);
      expect(data.state, JSON.stringify(data)).toBe('success');
      expect(submitsFor(fake, prompt)).toHaveLength(1);
      // The resumed run starts at the engine that owns the operation, not at the failed `value` one.
      expect(broken.submitRequests - brokenBefore).toBe(3);
      expect((await taskRow(id, second)).engine).toBe('gemini');
    } finally {
      fake.hold = false;
      fake.release();
      await first.close();
      await second?.close();
      await removeDataDir(dataDir);
    }
  });
});

describe('a worker killed while waiting on Veo', () => {
  it('is resumed by the next process without a second submit', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'longshot-gemini-kill-'));
    // SQLite in dataDir: the children must not inherit a DATABASE_URL meant for per-test schemas.
    // A restart slower than the 3 s deadline leaves the operation overdue, not lost: it is resumed.
    const env = {
      ...geminiEnv(),
      LONGSHOT_UPSTREAM_HARD_LIMIT_SECONDS: '60',
      LONGSHOT_DATA_DIR: dataDir,
      LONGSHOT_LEASE_MS: '1500',
      LONGSHOT_WORKERS: '1',
      DATABASE_URL: '',
    };
    const prompt = 'a kill -9 in the middle';
    try {
      const done = await killWhileWaiting(env, fake, { provider: 'official', input: { prompt, mode: 'fast' } }, () => submitsFor(fake, prompt).length);
      expect(done.state, JSON.stringify(done)).toBe('success');
      expect(submitsFor(fake, prompt)).toHaveLength(1);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildService, startChildService, waitForExit } from './support/child-service.js';
import { startFakeFal } from './support/fake-fal.js';
import { type ImageServer, startImageServer } from './support/image-server.js';
import { probe } from './support/media.js';
import { removeDataDir, startTestService, type TestService, waitForTask } from './support/service.js';
import { until } from './support/until.js';

/**
 * The `apixo` engine against a real second Longshot on loopback (docs/partners.md): Longshot A
 * routes `value` to Longshot B through B's APIXO-compatible API, as it would to APIXO itself.
 * B renders with its local engine; A stores the result, and B's ledger shows what A's key paid.
 */
let b: TestService;
let a: TestService;
let brokeKey: string;
let policyDir: string;
let images: ImageServer;

const FAST_PRICE_USD = 0.2;

function partnerEnv(upstreamKey: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    LONGSHOT_ENGINES: JSON.stringify({
      broke: { type: 'apixo', baseUrl: b.url, apiKey: brokeKey, allowPrivate: true },
      partner: { type: 'apixo', baseUrl: `${b.url}/api/v1/`, apiKey: upstreamKey, allowPrivate: true },
    }),
    LONGSHOT_ROUTES: 'value=partner;official=broke,partner;auto=value',
    LONGSHOT_UPSTREAM_POLL_MS: '50',
    LONGSHOT_UPSTREAM_POLL_MAX_MS: '200',
    LONGSHOT_UPSTREAM_RETRY_MS: '20',
    LONGSHOT_UPSTREAM_RETRIES: '1',
    // A's own content policy lets everything through, so B's judgement reaches A.
    LONGSHOT_MODERATION_LIST: join(policyDir, 'empty.txt'),
    ...extra,
  };
}

beforeAll(async () => {
  policyDir = await mkdtemp(join(tmpdir(), 'longshot-policy-'));
  await writeFile(join(policyDir, 'empty.txt'), '# nothing is refused here\n');
  images = await startImageServer({ 'first.png': 'color=c=orange:s=640x360' });
  // B fetches the client's image URLs itself (they are passed through), from loopback here.
  b = await startTestService({ LONGSHOT_WORKERS: '2', LONGSHOT_ALLOW_PRIVATE_IMAGE_URLS: 'true' });
  // Some credit, so the start's key check passes, but less than a task costs: B answers 402.
  brokeKey = (await b.newAccount('broke', 0.05)).key;
  a = await startTestService(partnerEnv(b.key, { LONGSHOT_ALLOW_PRIVATE_IMAGE_URLS: 'true' }));
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  await images?.close();
  await rm(policyDir, { recursive: true, force: true });
});

async function submit(svc: TestService, model: 'veo-3-1' | 'veo-3-1-extend', body: unknown): Promise<string> {
  const res = await svc.api('POST', `/api/v1/generateTask/${model}`, { body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.taskId;
}

const balanceOf = async (svc: TestService, key?: string): Promise<number> => (await svc.api('GET', '/api/v1/apikeys/current-balance', { key })).body.data;
const tasksOnB = () => b.service.deps.db.kysely.selectFrom('tasks').selectAll().orderBy('create_time').execute();
const upstreamOf = async (svc: TestService, id: string) =>
  svc.service.deps.db.kysely.selectFrom('task_upstream').selectAll().where('task_id', '=', id).executeTakeFirst();
const engineOf = async (svc: TestService, id: string) =>
  (await svc.service.deps.db.kysely.selectFrom('tasks').select('engine').where('id', '=', id).executeTakeFirstOrThrow()).engine;

describe('the apixo engine, pointed at another Longshot', () => {
  let generated = '';

  it('generates through the upstream: one upstream task, charged once there, the video stored here', async () => {
    const before = await balanceOf(b);
    const prompt = 'a river delta from above';
    generated = await submit(a, 'veo-3-1', { provider: 'value', input: { prompt, mode: 'fast', seed: 99, watermark: 'A' } });
    const data = await waitForTask(a, 'veo-3-1', generated);
    expect(data.state, JSON.stringify(data)).toBe('success');
    expect(await engineOf(a, generated)).toBe('partner');

    const upstreamTasks = (await tasksOnB()).filter((t) => JSON.parse(t.input).prompt === prompt);
    expect(upstreamTasks).toHaveLength(1);
    const sent = JSON.parse(upstreamTasks[0]!.input);
    expect(sent).toMatchObject({ prompt, mode: 'fast', seed: 99, watermark: 'A', generationType: 'TEXT_2_VIDEO', aspectRatio: '16:9' });
    // The submit carried A's task id as its Idempotency-Key.
    const idem = await b.service.deps.db.kysely.selectFrom('idempotency_keys').selectAll().where('task_id', '=', upstreamTasks[0]!.id).executeTakeFirst();
    expect(idem?.idem_key).toBe(generated);
    expect(Math.round((before - (await balanceOf(b))) * 100) / 100).toBe(FAST_PRICE_USD);
    expect((await upstreamOf(a, generated))?.video).toBe(upstreamTasks[0]!.id);

    // A serves its own copy: the upstream's file is not what A's URL points at.
    const url = JSON.parse(data.resultJson).resultUrls[0] as string;
    expect(url.startsWith(a.url)).toBe(true);
    const res = await fetch(url);
    const path = join(a.dataDir, 'partner.mp4');
    await writeFile(path, Buffer.from(await res.arrayBuffer()));
    expect(Math.abs((await probe(path)).durationSec - 8)).toBeLessThanOrEqual(0.1);
  });

  it("passes the client's image URLs and generation type through", async () => {
    const url = `${images.url}/first.png`;
    const prompt = 'a kite from a photo';
    const data = await waitForTask(
      a,
      'veo-3-1',
      await submit(a, 'veo-3-1', { provider: 'value', input: { prompt, mode: 'fast', generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO', image_urls: [url] } }),
    );
    expect(data.state, JSON.stringify(data)).toBe('success');
    const onB = (await tasksOnB()).find((t) => JSON.parse(t.input).prompt === prompt)!;
    expect(JSON.parse(onB.input)).toMatchObject({ generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO', imageUrls: [url] });
  });

  it("extends by the upstream's own task id", async () => {
    const id = await submit(a, 'veo-3-1-extend', { provider: 'value', input: { taskId: generated, prompt: 'the tide comes in', mode: 'fast' } });
    const data = await waitForTask(a, 'veo-3-1-extend', id);
    expect(data.state, JSON.stringify(data)).toBe('success');
    const source = (await upstreamOf(a, generated))!.video!;
    const onB = (await tasksOnB()).find((t) => t.source_task_id === source);
    expect(onB?.model).toBe('veo-3-1-extend');
    const row = await a.service.deps.db.kysely.selectFrom('tasks').select('duration_ms').where('id', '=', id).executeTakeFirstOrThrow();
    expect(Number(row.duration_ms)).toBe(15_000);
  });

  it("carries the upstream's fail codes over and releases the hold", async () => {
    const before = await balanceOf(a);
    // B's own content policy refuses this; A's lets it through.
    const data = await waitForTask(a, 'veo-3-1', await submit(a, 'veo-3-1', { provider: 'value', input: { prompt: 'a porn set', mode: 'fast' } }));
    expect(data).toMatchObject({ state: 'failed', failCode: 'CONTENT_VIOLATION' });
    expect(await balanceOf(a)).toBe(before);
  });

  it('fails over from an upstream that answers 402 and marks it unavailable; charged once', async () => {
    const before = await balanceOf(a);
    const data = await waitForTask(a, 'veo-3-1', await submit(a, 'veo-3-1', { provider: 'official', input: { prompt: 'a quiet harbour', mode: 'fast' } }));
    expect(data.state, JSON.stringify(data)).toBe('success');
    expect(Math.round((before - (await balanceOf(a))) * 100) / 100).toBe(FAST_PRICE_USD);
    const broke = a.service.deps.health.standing('broke');
    expect(broke.available).toBe(false);
    expect(broke.reason).toMatch(/402/);
    expect((await a.api('GET', '/healthz', { key: null })).body.data.engines).toContainEqual({
      engine: 'broke',
      reason: 'the upstream account cannot pay for the task',
    });
  });
});

describe('auto across partner types', () => {
  it('skips a failing fal partner, is served by the APIXO-compatible one, and is charged once', async () => {
    const fal = await startFakeFal();
    fal.alwaysStatus = 503;
    const svc = await startTestService(
      partnerEnv(b.key, {
        LONGSHOT_ENGINES: JSON.stringify({
          fal: { type: 'fal', apiKey: fal.apiKey, baseUrl: fal.url, allowPrivate: true },
          partner: { type: 'apixo', baseUrl: b.url, apiKey: b.key, allowPrivate: true },
        }),
        LONGSHOT_ROUTES: 'value=fal,partner;official=local;auto=value,official',
      }),
    );
    try {
      const before = await balanceOf(svc);
      const onBBefore = (await tasksOnB()).length;
      const id = await submit(svc, 'veo-3-1', { provider: 'auto', input: { prompt: 'a lighthouse across partners', mode: 'fast' } });
      const data = await waitForTask(svc, 'veo-3-1', id);
      expect(data.state, JSON.stringify(data)).toBe('success');
      expect(await engineOf(svc, id)).toBe('partner');
      expect(fal.submitRequests).toBeGreaterThan(0);
      expect((await tasksOnB()).length - onBBefore).toBe(1);
      expect(Math.round((before - (await balanceOf(svc))) * 100) / 100).toBe(FAST_PRICE_USD);
    } finally {
      await svc.close();
      await fal.close();
    }
  });
});

describe('a federation survives a kill -9 of the gateway in front', () => {
  it('leaves exactly one upstream task per task and finishes it after the restart', async () => {
    // B2 takes tasks but renders nothing until B2w (its workers) starts: A is killed while waiting.
    const bDir = await mkdtemp(join(tmpdir(), 'longshot-b2-'));
    const aDir = await mkdtemp(join(tmpdir(), 'longshot-a2-'));
    const b2 = await startTestService({}, { dataDir: bDir, workers: false });
    let b2w: TestService | null = null;
    const children: ChildService[] = [];
    try {
      const env = {
        ...partnerEnv(b2.key),
        LONGSHOT_ENGINES: JSON.stringify({ partner: { type: 'apixo', baseUrl: b2.url, apiKey: b2.key, allowPrivate: true } }),
        LONGSHOT_ROUTES: 'value=partner;auto=value;official=',
        LONGSHOT_DATA_DIR: aDir,
        LONGSHOT_LEASE_MS: '1500',
        LONGSHOT_WORKERS: '1',
        DATABASE_URL: '',
      };
      const first = await startChildService(env);
      children.push(first);
      const key = first.key!;
      const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
      const submitted = await fetch(`${first.url}/api/v1/generateTask/veo-3-1`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ provider: 'value', input: { prompt: 'a kill in a federation', mode: 'fast' } }),
      });
      const { taskId } = ((await submitted.json()) as any).data;
      const onB2 = () => b2.service.deps.db.kysely.selectFrom('tasks').selectAll().execute();
      await until(async () => ((await onB2()).length === 1 ? true : undefined), 'the upstream task');
      await new Promise((r) => setTimeout(r, 300));
      first.child.kill('SIGKILL');
      await waitForExit(first.child);

      const second = await startChildService(env);
      children.push(second);
      b2w = await startTestService({}, { dataDir: bDir, workers: true });
      const done = await until(
        async () => {
          const d = ((await (await fetch(`${second.url}/api/v1/statusTask/veo-3-1?taskId=${taskId}`, { headers })).json()) as any).data;
          return d.state === 'success' || d.state === 'failed' ? d : undefined;
        },
        'the task to finish after the restart',
        60_000,
      );
      expect(done.state, JSON.stringify(done)).toBe('success');
      expect(await onB2()).toHaveLength(1);
    } finally {
      for (const c of children) c.child.kill('SIGKILL');
      await b2w?.close();
      await b2.close();
      await removeDataDir(bDir);
      await rm(aDir, { recursive: true, force: true });
    }
  });
});

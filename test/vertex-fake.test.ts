import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { type GenerateVideosOperation, type GenerateVideosParameters, GoogleGenAI } from '@google/genai';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveFfmpeg } from '../src/engines/ffmpeg.js';
import { type FakeVertex, startFakeVertex } from './support/fake-vertex.js';
import { probe } from './support/media.js';
import { assertionClaims, exchangeAssertion, fetchAccessToken, makeServiceAccount, type ServiceAccountKey, signAssertion } from './support/service-account.js';

/**
 * The fake Vertex AI Veo (test/support/fake-vertex.ts) proved against Google's own Node client,
 * `@google/genai` in Vertex mode: if the SDK can submit, poll, read results and see errors
 * through it, the fake speaks the protocol the real service does. The access token comes from
 * the fake's `/token` with a hand-signed JWT, because google-auth-library always posts service
 * account assertions to https://oauth2.googleapis.com/token whatever the key file's `token_uri`.
 */
let fake: FakeVertex;
let key: ServiceAccountKey;
let ai: GoogleGenAI;
let dir: string;
let clip8: Buffer | null = null;

function sdk(accessToken: string, expiryDate: number): GoogleGenAI {
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: accessToken, expiry_date: expiryDate });
  return new GoogleGenAI({
    vertexai: true,
    project: fake.project,
    location: fake.location,
    httpOptions: { baseUrl: fake.url, apiVersion: 'v1' },
    googleAuthOptions: { authClient },
  });
}

async function generate(params: GenerateVideosParameters): Promise<GenerateVideosOperation> {
  let operation = await ai.models.generateVideos(params);
  while (!operation.done) {
    await sleep(20);
    operation = await ai.operations.getVideosOperation({ operation });
  }
  return operation;
}

async function probeBytes(bytes: Buffer, name: string): Promise<Awaited<ReturnType<typeof probe>>> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return probe(path);
}

const submitted = (prompt: string) => fake.submits.find((s) => s.body.instances[0].prompt === prompt);

beforeAll(async () => {
  [fake, dir] = await Promise.all([startFakeVertex(), mkdtemp(join(tmpdir(), 'vertex-fake-test-'))]);
  key = JSON.parse(await readFile(fake.keyFile, 'utf8')) as ServiceAccountKey;
  const { accessToken, expiryDate } = await fetchAccessToken(key);
  ai = sdk(accessToken, expiryDate);
});

afterAll(async () => {
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the fake Vertex AI Veo, through @google/genai', () => {
  it('writes a service-account key file whose token_uri is the fake', () => {
    expect(key).toMatchObject({ type: 'service_account', project_id: 'test-project', client_email: fake.clientEmail, token_uri: fake.tokenUri });
    expect(key.private_key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(fake.tokensIssued).toBe(1);
  });

  it('generates an 8 s 1280×720 H.264/AAC clip inline, honouring the seed', async () => {
    const prompt = 'a lighthouse at dusk';
    const op = await generate({
      model: 'veo-3.1-fast-generate-001',
      source: { prompt },
      config: { seed: 42, aspectRatio: '16:9', durationSeconds: 8, numberOfVideos: 1, generateAudio: true, resolution: '720p' },
    });
    expect(op.error).toBeUndefined();
    expect(op.name).toMatch(
      /^projects\/test-project\/locations\/us-central1\/publishers\/google\/models\/veo-3\.1-fast-generate-001\/operations\/[0-9a-f-]{36}$/,
    );
    const video = op.response?.generatedVideos?.[0]?.video;
    expect(video?.mimeType).toBe('video/mp4');
    clip8 = Buffer.from(video!.videoBytes!, 'base64');
    const info = await probeBytes(clip8, 'gen.mp4');
    expect(info.durationSec).toBeCloseTo(8, 0);
    expect(info.video).toMatchObject({ codec: 'h264', profile: 'Main', width: 1280, height: 720, fps: 24 });
    expect(info.audio?.codec).toBe('aac');
    const sent = submitted(prompt)!;
    expect(sent).toMatchObject({ model: 'veo-3.1-fast-generate-001', apiVersion: 'v1', inputVideoSeconds: null });
    expect(sent.body.parameters).toMatchObject({ seed: 42, sampleCount: 1, durationSeconds: 8, aspectRatio: '16:9', generateAudio: true });
    expect(fake.polls).toBeGreaterThanOrEqual(2); // pollsBeforeDone = 1: one not-done answer first
  });

  it('serves 9:16 as 720×1280', async () => {
    const op = await generate({ model: 'veo-3.1-lite-generate-001', source: { prompt: 'portrait rain' }, config: { aspectRatio: '9:16', durationSeconds: 4 } });
    const info = await probeBytes(Buffer.from(op.response!.generatedVideos![0]!.video!.videoBytes!, 'base64'), 'portrait.mp4');
    expect(info.video).toMatchObject({ width: 720, height: 1280 });
    expect(info.durationSec).toBeCloseTo(4, 0);
  });

  it('writes results to its bucket for outputGcsUri, downloadable with the token', async () => {
    const op = await generate({ model: 'veo-3.1-generate-001', source: { prompt: 'gcs please' }, config: { outputGcsUri: 'gs://fake-veo-bucket/out' } });
    const uri = op.response!.generatedVideos![0]!.video!.uri!;
    const id = op.name!.split('/').pop();
    expect(uri).toBe(`gs://fake-veo-bucket/out/${id}/sample_0.mp4`);
    const media = `${fake.url}/storage/v1/b/fake-veo-bucket/o/${encodeURIComponent(`out/${id}/sample_0.mp4`)}?alt=media`;
    const { accessToken } = await fetchAccessToken(key);
    const res = await fetch(media, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(res.status).toBe(200);
    expect((await probeBytes(Buffer.from(await res.arrayBuffer()), 'gcs.mp4')).durationSec).toBeCloseTo(8, 0);
    expect(fake.downloads).toBe(1);
    expect((await fetch(media)).status).toBe(401);
    // A result in the bucket can be extended by its gs:// URI, as on Vertex.
    const ext = await generate({
      model: 'veo-3.1-generate-001',
      source: { prompt: 'extend from gcs', video: { uri } },
      config: { outputGcsUri: 'gs://fake-veo-bucket/out' },
    });
    expect(ext.response!.generatedVideos![0]!.video!.uri).toMatch(/^gs:\/\/fake-veo-bucket\/out\/[0-9a-f-]{36}\/sample_0\.mp4$/);
    expect(submitted('extend from gcs')!.inputVideoSeconds).toBeCloseTo(8, 0);
    const other = ai.models.generateVideos({ model: 'veo-3.1-generate-001', source: { prompt: 'x' }, config: { outputGcsUri: 'gs://someone-else/out' } });
    await expect(other).rejects.toMatchObject({ status: 403 });
  });

  it('extends an 8 s clip to ~15 s and refuses a 36 s one', async () => {
    expect(clip8).not.toBeNull();
    const op = await generate({
      model: 'veo-3.1-fast-generate-001',
      source: { prompt: 'keep going', video: { videoBytes: clip8!.toString('base64'), mimeType: 'video/mp4' } },
    });
    const info = await probeBytes(Buffer.from(op.response!.generatedVideos![0]!.video!.videoBytes!, 'base64'), 'ext.mp4');
    expect(info.durationSec).toBeGreaterThan(14.5);
    expect(info.durationSec).toBeLessThan(15.5);
    expect(info.video).toMatchObject({ width: 1280, height: 720 });
    expect(submitted('keep going')!.inputVideoSeconds).toBeCloseTo(8, 0);

    const long = join(dir, 'long.mp4');
    await promisify(execFile)(resolveFfmpeg(), [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'color=c=gray:size=320x180:rate=24',
      '-t',
      '36',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      long,
    ]);
    const refused = ai.models.generateVideos({
      model: 'veo-3.1-fast-generate-001',
      source: { prompt: 'too long', video: { videoBytes: (await readFile(long)).toString('base64'), mimeType: 'video/mp4' } },
    });
    await expect(refused).rejects.toMatchObject({ status: 400, message: expect.stringContaining('between 1 and 30 seconds') });
    expect(submitted('too long')).toBeUndefined();
  });

  it('reports RAI filtering, operation errors, unknown models and expired tokens as Google does', async () => {
    const rai = await generate({ model: 'veo-3.1-generate-001', source: { prompt: 'fake:rai' } });
    expect(rai.response?.raiMediaFilteredCount).toBe(1);
    expect(rai.response?.raiMediaFilteredReasons?.[0]).toMatch(/Support codes/);
    expect(rai.response?.generatedVideos).toBeUndefined();

    const failed = await generate({ model: 'veo-3.1-generate-001', source: { prompt: 'fake:error13' } });
    expect(failed.error).toMatchObject({ code: 13 });

    await expect(ai.models.generateVideos({ model: 'veo-9-generate-001', source: { prompt: 'x' } })).rejects.toMatchObject({
      status: 404,
      message: expect.stringContaining('was not found or your project does not have access to it'),
    });
    expect((await ai.models.get({ model: 'veo-3.1-generate-001' })).name).toBe('publishers/google/models/veo-3.1-generate-001');
    await expect(ai.models.get({ model: 'veo-9-generate-001' })).rejects.toMatchObject({ status: 404 });
    expect(fake.modelGets).toEqual(['veo-3.1-generate-001', 'veo-9-generate-001']);

    const before = fake.unauthorized;
    fake.expireTokens();
    await expect(ai.models.generateVideos({ model: 'veo-3.1-generate-001', source: { prompt: 'late' } })).rejects.toMatchObject({
      status: 401,
      message: expect.stringContaining('UNAUTHENTICATED'),
    });
    expect(fake.unauthorized).toBe(before + 1);
    const { accessToken, expiryDate } = await fetchAccessToken(key);
    ai = sdk(accessToken, expiryDate);
  });
});

describe('the fake Vertex AI Veo, over plain HTTP', () => {
  const claims = (over: Record<string, unknown> = {}) => ({ ...assertionClaims(key), ...over });

  it('refuses bad assertions at /token as Google does (invalid_grant, invalid_scope, unsupported_grant_type)', async () => {
    const stranger = await makeServiceAccount();
    const cases: Array<[string, string]> = [
      [signAssertion(stranger.key, claims()), 'Invalid JWT Signature.'],
      [signAssertion(key, claims({ aud: 'https://oauth2.googleapis.com/token' })), 'Failed audience check'],
      [signAssertion(key, claims({ iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 })), 'exp has passed'],
      [signAssertion(key, claims({ exp: Math.floor(Date.now() / 1000) + 7200 })), 'more than 3600 s'],
      [signAssertion(key, claims({ iss: 'someone@else.iam.gserviceaccount.com' })), 'not a known service account'],
    ];
    for (const [assertion, why] of cases) {
      const { status, body } = await exchangeAssertion(fake.tokenUri, assertion);
      expect(status).toBe(400);
      expect(body.error).toBe('invalid_grant');
      expect(body.error_description).toContain(why);
    }
    expect((await exchangeAssertion(fake.tokenUri, signAssertion(key, claims({ scope: 'https://www.googleapis.com/auth/drive' })))).body.error).toBe(
      'invalid_scope',
    );
    expect((await exchangeAssertion(fake.tokenUri, signAssertion(key, claims()), 'client_credentials')).body.error).toBe('unsupported_grant_type');
  });

  it('issues tokens for tokenTtlSeconds and refuses them after', async () => {
    fake.tokenTtlSeconds = 1;
    const { status, body } = await exchangeAssertion(fake.tokenUri, signAssertion(key, claims()));
    fake.tokenTtlSeconds = 3600;
    expect(status).toBe(200);
    expect(body).toMatchObject({ expires_in: 1, token_type: 'Bearer' });
    const get = () => fetch(`${fake.url}/v1/publishers/google/models/veo-3.1-generate-001`, { headers: { authorization: `Bearer ${body.access_token}` } });
    expect((await get()).status).toBe(200);
    await sleep(1100);
    expect((await get()).status).toBe(401);
  });

  it('answers markers, hold, alwaysStatus and a GET on the operation like the real service', async () => {
    const { accessToken } = await fetchAccessToken(key);
    const headers = { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' };
    const base = `${fake.url}/v1/projects/test-project/locations/us-central1/publishers/google/models/veo-3.1-generate-001`;
    const submit = (prompt: string, parameters: object = {}) =>
      fetch(`${base}:predictLongRunning`, { method: 'POST', headers, body: JSON.stringify({ instances: [{ prompt }], parameters }) });
    const poll = async (operationName: string) =>
      (await fetch(`${base}:fetchPredictOperation`, { method: 'POST', headers, body: JSON.stringify({ operationName }) })).json() as Promise<any>;

    expect((await submit('fake:429once')).status).toBe(429);
    expect((await submit('fake:429once')).status).toBe(200);
    expect((await submit('x', { durationSeconds: 5 })).status).toBe(400);
    expect((await submit('x', { seed: -1 })).status).toBe(400);
    expect((await (await submit('x', { aspectRatio: '1:1' })).json()).error.status).toBe('INVALID_ARGUMENT');
    expect((await fetch(`${base.replace('test-project', 'other-project')}:predictLongRunning`, { method: 'POST', headers, body: '{}' })).status).toBe(403);

    fake.hold = true;
    const { name } = (await (await submit('held')).json()) as { name: string };
    fake.hold = false;
    for (let i = 0; i < 3; i++) expect(await poll(name)).toEqual({ name });
    expect((await fetch(`${fake.url}/v1/${name}`, { headers })).status).toBe(404);
    fake.release();
    expect((await poll(name)).done).toBe(true);

    const broken = ((await (await submit('fake:poll500')).json()) as { name: string }).name;
    expect((await fetch(`${base}:fetchPredictOperation`, { method: 'POST', headers, body: JSON.stringify({ operationName: broken }) })).status).toBe(500);

    fake.alwaysStatus = 503;
    expect((await submit('x')).status).toBe(503);
    fake.alwaysStatus = null;
  });
});

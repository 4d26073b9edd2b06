import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, rmSync } from 'node:fs';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClipSpec, extendVideo, type MediaInfo, probeVideo, receiveVideo, scratchPath, veoClip } from './fake-vertex-media.js';
import { checkSubmitBody, clipSize } from './fake-vertex-validate.js';
import { CLOUD_PLATFORM_SCOPE, JWT_BEARER_GRANT, makeServiceAccount, verifyAssertion } from './service-account.js';

/**
 * A stand-in for Vertex AI Veo over real HTTP, with the pieces a service-account client touches:
 * - `POST /token`: Google's OAuth token endpoint for the JWT-bearer grant; it checks the RS256
 *   assertion against the key pair behind `keyFile` and issues bearer tokens.
 * - `POST /{v1|v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{m}:predictLongRunning`
 *   → `{name}`; `…:fetchPredictOperation {operationName}` → the Operation. Like Google's, a
 *   running operation is `{name}` alone (proto3 JSON leaves out `done: false`).
 * - `GET /{v1|v1beta1}/publishers/google/models/{m}` (the publisher-model lookup).
 * - `GET /storage/v1/b/{bucket}/o/{object}?alt=media`: the one Cloud Storage bucket it writes to.
 * Everything but `/token` needs `Authorization: Bearer <issued, unexpired token>`.
 *
 * Behaviour per task is chosen by markers in the prompt, as in fake-gemini, so parallel tests do
 * not interfere: `fake:400`, `fake:429` / `fake:500` (every submit), `fake:429once` (the first
 * submit of that prompt), `fake:rai` (done, filtered), `fake:never`, `fake:error3` /
 * `fake:error13` (done with that google.rpc error), `fake:poll500`.
 */
export interface FakeVertex {
  /** Base URL for the aiplatform paths, `/token` and `/storage/...`. */
  url: string;
  tokenUri: string;
  project: string;
  location: string;
  /** A service-account key file whose `token_uri` is `tokenUri` (removed at process exit). */
  keyFile: string;
  clientEmail: string;
  /** The one Cloud Storage bucket this fake serves and writes `storageUri` results to. */
  bucket: string;
  /** Lifetime of tokens issued from now on (`expires_in`). */
  tokenTtlSeconds: number;
  tokensIssued: number;
  /** Accepted submits; `inputVideoSeconds` is the extension input's length (null otherwise). */
  submits: Array<{ model: string; body: any; apiVersion: string; inputVideoSeconds: number | null }>;
  /** Every submit request, answered or refused (refusals for auth included). */
  submitRequests: number;
  polls: number;
  downloads: number;
  modelGets: string[];
  /** Requests refused for a missing, unknown or expired token. */
  unauthorized: number;
  models: Set<string>;
  /** Polls an operation answers not-done before it is done. */
  pollsBeforeDone: number;
  /** New operations stay running until `release()`. */
  hold: boolean;
  release(): void;
  /** Answers every aiplatform request (not `/token`, not storage) with this status. */
  alwaysStatus: number | null;
  /** Every token issued so far counts as expired from now on. */
  expireTokens(): void;
  close(): Promise<void>;
}

interface Op {
  id: string;
  name: string;
  model: string;
  prompt: string;
  polls: number;
  held: boolean;
  samples: number;
  /** `gs://` prefix (object-name part) to write results under, or null for inline bytes. */
  storagePrefix: string | null;
  /** The result file: a cached generation clip, or the extension being rendered. */
  result: () => Promise<string>;
}

const RPC_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'NOT_IMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};
const RESPONSE_TYPE = 'type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse';
const UNAUTHENTICATED =
  'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';
const QUOTA =
  'Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model with base model: veo-3.1. Please submit a quota increase request.';
/** Google's front end answers a URL no API maps with this HTML page, not JSON. */
const NOT_FOUND_PAGE =
  '<!DOCTYPE html>\n<html lang=en>\n<title>Error 404 (Not Found)!!1</title>\n<p><b>404.</b> <ins>That’s an error.</ins>\n<p>The requested URL was not found on this server. <ins>That’s all we know.</ins>\n';
const MODEL_ROUTE = /^\/(v1|v1beta1)\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/google\/models\/([^/:]+):(predictLongRunning|fetchPredictOperation)$/;
const DEFAULT_MODELS = ['veo-3.1-generate-001', 'veo-3.1-fast-generate-001', 'veo-3.1-lite-generate-001'];

export async function startFakeVertex(opts: { project?: string; location?: string } = {}): Promise<FakeVertex> {
  const project = opts.project ?? 'test-project';
  const location = opts.location ?? 'us-central1';
  const keyDir = await mkdtemp(join(tmpdir(), 'fake-vertex-key-'));
  process.once('exit', () => rmSync(keyDir, { recursive: true, force: true }));
  // The common clip is made while the server starts, so the first done poll is quick.
  const [account] = await Promise.all([
    makeServiceAccount({ projectId: project, clientEmail: 'longshot-test@test-project.iam.gserviceaccount.com' }),
    veoClip({ width: 1280, height: 720, seconds: 8, audio: true }),
  ]);
  const tokens = new Map<string, number>(); // token → expiry, ms since the epoch
  const ops = new Map<string, Op>();
  const objects = new Map<string, string>(); // object name in `bucket` → file
  const onceSeen = new Set<string>();
  const scratch = randomUUID();

  const fake: FakeVertex = {
    url: '',
    tokenUri: '',
    project,
    location,
    keyFile: join(keyDir, 'service-account.json'),
    clientEmail: account.key.client_email,
    bucket: 'fake-veo-bucket',
    tokenTtlSeconds: 3600,
    tokensIssued: 0,
    submits: [],
    submitRequests: 0,
    polls: 0,
    downloads: 0,
    modelGets: [],
    unauthorized: 0,
    models: new Set(DEFAULT_MODELS),
    pollsBeforeDone: 1,
    hold: false,
    alwaysStatus: null,
    release() {
      for (const op of ops.values()) op.held = false;
    },
    expireTokens() {
      for (const t of tokens.keys()) tokens.set(t, 0);
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
    res.end(JSON.stringify(body));
  };
  const rpcError = (res: ServerResponse, code: number, message: string): void =>
    send(res, code, { error: { code, message, status: RPC_STATUS[code] ?? 'UNKNOWN' } });
  /** Cloud Storage's JSON API errors have `errors[]` and no `status`. */
  const gcsError = (res: ServerResponse, code: number, reason: string, message: string): void =>
    send(res, code, { error: { code, message, errors: [{ message, domain: 'global', reason }] } });
  const authorized = (req: IncomingMessage): boolean => {
    const token = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const expiry = token === undefined ? undefined : tokens.get(token);
    if (expiry !== undefined && Date.now() < expiry) return true;
    fake.unauthorized++;
    return false;
  };

  /** The JWT-bearer grant of developers.google.com/identity/protocols/oauth2/service-account. */
  function issueToken(res: ServerResponse, form: URLSearchParams): void {
    const grant = form.get('grant_type');
    const bad = (error: string, description: string): void => send(res, 400, { error, error_description: description });
    if (grant !== JWT_BEARER_GRANT) return bad('unsupported_grant_type', `Invalid grant_type: ${grant ?? ''}`);
    const assertion = form.get('assertion');
    if (!assertion) return bad('invalid_request', 'Missing required parameter: assertion');
    const checked = verifyAssertion(assertion, account.publicKey);
    if (!checked.ok) return bad('invalid_grant', checked.reason);
    const { iss, aud, scope, iat, exp } = checked.claims;
    const now = Date.now() / 1000;
    if (iss !== fake.clientEmail) return bad('invalid_grant', `Invalid JWT: iss ${String(iss)} is not a known service account.`);
    if (aud !== fake.tokenUri) return bad('invalid_grant', `Invalid JWT: Failed audience check. The right audience is ${fake.tokenUri}`);
    if (typeof scope !== 'string' || !scope.split(' ').includes(CLOUD_PLATFORM_SCOPE)) {
      return bad('invalid_scope', `Invalid OAuth scope or ID token audience provided: scope must include ${CLOUD_PLATFORM_SCOPE}.`);
    }
    const timing =
      typeof iat !== 'number' || typeof exp !== 'number'
        ? 'iat and exp must be numbers'
        : iat > now + 60
          ? 'iat is in the future'
          : exp <= now
            ? 'exp has passed'
            : exp - iat > 3600
              ? 'exp is more than 3600 s after iat'
              : null;
    if (timing) {
      return bad(
        'invalid_grant',
        `Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim (${timing}).`,
      );
    }
    const token = `ya29.fake-${randomBytes(24).toString('base64url')}`;
    tokens.set(token, Date.now() + fake.tokenTtlSeconds * 1000);
    fake.tokensIssued++;
    send(res, 200, { access_token: token, expires_in: fake.tokenTtlSeconds, token_type: 'Bearer' });
  }

  async function submit(res: ServerResponse, apiVersion: string, model: string, raw: Buffer): Promise<void> {
    let body: any;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return rpcError(res, 400, 'Invalid JSON payload received. Unexpected token.');
    }
    const bad = checkSubmitBody(body);
    if (bad) return rpcError(res, 400, bad);
    const inst = body.instances[0];
    const params = body.parameters ?? {};
    const prompt: string = inst.prompt ?? '';
    // Markers before any media work, so a refused submit never starts a render.
    if (prompt.includes('fake:400')) return rpcError(res, 400, 'The request is invalid (fake:400).');
    if (prompt.includes('fake:429once') && !onceSeen.has(prompt)) {
      onceSeen.add(prompt);
      return rpcError(res, 429, QUOTA);
    }
    if (/fake:429(?!once)/.test(prompt)) return rpcError(res, 429, QUOTA);
    if (prompt.includes('fake:500')) return rpcError(res, 500, 'Internal error encountered.');
    let storagePrefix: string | null = null;
    if (typeof params.storageUri === 'string') {
      const [, bkt, prefix] = /^gs:\/\/([^/]+)\/?(.*)$/.exec(params.storageUri)!;
      if (bkt !== fake.bucket) {
        return rpcError(
          res,
          403,
          `${fake.clientEmail} does not have storage.objects.create access to the Google Cloud Storage object. Permission 'storage.objects.create' denied on resource (or it may not exist).`,
        );
      }
      storagePrefix = prefix!.replace(/\/+$/, '');
    }
    let inputVideoSeconds: number | null = null;
    let result: () => Promise<string>;
    if (inst.video !== undefined) {
      let input: { path: string; info: MediaInfo | null };
      if (typeof inst.video.gcsUri === 'string') {
        const [, bkt, object] = /^gs:\/\/([^/]+)\/(.+)$/.exec(inst.video.gcsUri)!;
        if (bkt !== fake.bucket)
          return rpcError(
            res,
            403,
            `${fake.clientEmail} does not have storage.objects.get access to the Google Cloud Storage object. Permission 'storage.objects.get' denied on resource (or it may not exist).`,
          );
        const file = objects.get(object!);
        if (!file) return rpcError(res, 404, `No such object: ${bkt}/${object}`);
        input = { path: file, info: await probeVideo(file) };
      } else {
        input = await receiveVideo(scratch, Buffer.from(inst.video.bytesBase64Encoded, 'base64'));
      }
      const { path, info } = input;
      if (!info) return rpcError(res, 400, 'instances[0].video could not be decoded as an MP4 video.');
      if (info.seconds < 1 || info.seconds > 30) {
        return rpcError(res, 400, `The input video is ${info.seconds.toFixed(2)} seconds long; a video to extend must be between 1 and 30 seconds.`);
      }
      inputVideoSeconds = info.seconds;
      // Rendered right away, like a real job; a rejection is kept for the done poll to report.
      const rendering = extendVideo(path, info, scratchPath(scratch, `ext-${randomUUID()}.mp4`));
      rendering.catch(() => {});
      result = () => rendering;
    } else {
      const spec: ClipSpec = { ...clipSize(params.aspectRatio, params.resolution), seconds: params.durationSeconds ?? 8, audio: params.generateAudio ?? true };
      result = () => veoClip(spec);
    }
    const id = randomUUID();
    const name = `projects/${project}/locations/${location}/publishers/google/models/${model}/operations/${id}`;
    ops.set(id, { id, name, model, prompt, polls: 0, held: fake.hold, samples: params.sampleCount ?? 1, storagePrefix, result });
    fake.submits.push({ model, body, apiVersion, inputVideoSeconds });
    send(res, 200, { name });
  }

  async function fetchOperation(res: ServerResponse, model: string, raw: Buffer): Promise<void> {
    let operationName: unknown;
    try {
      operationName = JSON.parse(raw.toString('utf8'))?.operationName;
    } catch {
      return rpcError(res, 400, 'Invalid JSON payload received. Unexpected token.');
    }
    if (typeof operationName !== 'string') return rpcError(res, 400, 'operationName is required.');
    const id = /^projects\/[^/]+\/locations\/[^/]+\/publishers\/google\/models\/[^/]+\/operations\/([^/]+)$/.exec(operationName)?.[1];
    if (!id) return rpcError(res, 400, `Invalid operation name: ${operationName}`);
    const op = ops.get(id);
    if (!op || op.name !== operationName || op.model !== model) return rpcError(res, 404, `Operation ${operationName} not found.`);
    if (op.prompt.includes('fake:poll500')) return rpcError(res, 500, 'Internal error encountered.');
    op.polls++;
    const name = op.name;
    if (op.held || op.prompt.includes('fake:never') || op.polls <= fake.pollsBeforeDone) return send(res, 200, { name });
    const code = /fake:error(\d+)/.exec(op.prompt)?.[1];
    if (code) return send(res, 200, { name, done: true, error: { code: Number(code), message: `fake operation error ${code}` } });
    if (op.prompt.includes('fake:rai')) {
      return send(res, 200, {
        name,
        done: true,
        response: {
          '@type': RESPONSE_TYPE,
          raiMediaFilteredCount: 1,
          raiMediaFilteredReasons: [
            "Unable to show generated videos. All videos were filtered out because they violated Vertex AI's usage guidelines. You will not be charged for blocked videos. Support codes: 58061214",
          ],
        },
      });
    }
    let file: string;
    try {
      file = await op.result();
    } catch (err) {
      return send(res, 200, { name, done: true, error: { code: 13, message: `video generation failed: ${String(err)}` } });
    }
    const videos: Array<Record<string, string>> = [];
    for (let i = 0; i < op.samples; i++) {
      if (op.storagePrefix === null) {
        videos.push({ bytesBase64Encoded: (await readFile(file)).toString('base64'), mimeType: 'video/mp4' });
      } else {
        const object = [op.storagePrefix, op.id, `sample_${i}.mp4`].filter((s) => s !== '').join('/');
        objects.set(object, file);
        videos.push({ gcsUri: `gs://${fake.bucket}/${object}`, mimeType: 'video/mp4' });
      }
    }
    send(res, 200, { name, done: true, response: { '@type': RESPONSE_TYPE, raiMediaFilteredCount: 0, videos } });
  }

  async function storage(req: IncomingMessage, res: ServerResponse, url: URL, bkt: string, object: string): Promise<void> {
    if (!authorized(req)) return gcsError(res, 401, 'authError', 'Invalid Credentials');
    if (bkt !== fake.bucket) {
      return gcsError(
        res,
        403,
        'forbidden',
        `${fake.clientEmail} does not have storage.objects.get access to the Google Cloud Storage object. Permission 'storage.objects.get' denied on resource (or it may not exist).`,
      );
    }
    const file = objects.get(object);
    if (!file) return gcsError(res, 404, 'notFound', `No such object: ${bkt}/${object}`);
    const size = (await stat(file)).size;
    if (url.searchParams.get('alt') !== 'media') {
      return send(res, 200, { kind: 'storage#object', bucket: bkt, name: object, size: String(size), contentType: 'video/mp4' });
    }
    fake.downloads++;
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(size) });
    createReadStream(file).pipe(res);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    if (url.pathname === '/token' && req.method === 'POST') return issueToken(res, new URLSearchParams(raw.toString('utf8')));
    const gcs = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/.exec(url.pathname);
    if (gcs && req.method === 'GET') return storage(req, res, url, decodeURIComponent(gcs[1]!), decodeURIComponent(gcs[2]!));

    const route = MODEL_ROUTE.exec(url.pathname);
    const modelGet = /^\/(v1|v1beta1)\/publishers\/google\/models\/([^/:]+)$/.exec(url.pathname);
    const known = (route && req.method === 'POST') || (modelGet && req.method === 'GET');
    if (route?.[5] === 'predictLongRunning' && req.method === 'POST') fake.submitRequests++;
    if (!known) {
      res.writeHead(404, { 'content-type': 'text/html; charset=UTF-8' });
      return void res.end(NOT_FOUND_PAGE);
    }
    if (!authorized(req))
      return send(
        res,
        401,
        { error: { code: 401, message: UNAUTHENTICATED, status: 'UNAUTHENTICATED' } },
        { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' },
      );
    if (route?.[5] === 'fetchPredictOperation') fake.polls++;
    if (fake.alwaysStatus !== null) return rpcError(res, fake.alwaysStatus, `fake upstream answers ${fake.alwaysStatus} to everything`);

    if (modelGet) {
      const model = decodeURIComponent(modelGet[2]!);
      fake.modelGets.push(model);
      if (!fake.models.has(model)) return rpcError(res, 404, `Publisher Model \`publishers/google/models/${model}\` is not found.`);
      return send(res, 200, { name: `publishers/google/models/${model}`, versionId: '001', openSourceCategory: 'PROPRIETARY', launchStage: 'GA' });
    }
    const [, apiVersion, p, l, m, verb] = route!;
    const model = decodeURIComponent(m!);
    const resource = `projects/${p}/locations/${l}/publishers/google/models/${model}`;
    if (p !== project)
      return rpcError(
        res,
        403,
        `Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/${resource}' (or it may not exist).`,
      );
    if (l !== location)
      return rpcError(res, 404, `Publisher Model \`${resource}\` was not found or your project does not have access to it. Location ${l} is not served here.`);
    if (!fake.models.has(model)) {
      return rpcError(
        res,
        404,
        `Publisher Model \`${resource}\` was not found or your project does not have access to it. Please ensure you are using a valid model version.`,
      );
    }
    return verb === 'predictLongRunning' ? submit(res, apiVersion!, model, raw) : fetchOperation(res, model, raw);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) rpcError(res, 500, String(err));
      else res.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.tokenUri = `${fake.url}/token`;
  await writeFile(fake.keyFile, JSON.stringify({ ...account.key, token_uri: fake.tokenUri }, null, 2), { mode: 0o600 });
  return fake;
}

import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkInput, decodeDataUri, endpointKind, type FalErrorDetail, falError, sniffImage, URL_FIELDS, VEO_ENDPOINTS } from './fake-fal-validate.js';
import { extendVideo, type MediaInfo, probeVideo, receiveVideo, scratchPath, veoClip } from './fake-vertex-media.js';
import { clipSize } from './fake-vertex-validate.js';

/**
 * A stand-in for fal's queue (https://queue.fal.run) and file hosts over real HTTP, serving the
 * Veo 3.1 endpoints (fake-fal-validate.ts lists them):
 * - `POST /{owner}/{app}[/{path}]` → `{status: "IN_QUEUE", request_id, response_url, status_url,
 *   cancel_url, queue_position}`. The other three routes use the app id alone (`fal-ai/veo3.1`):
 * - `GET /{owner}/{app}/requests/{id}/status[?logs=1]` → 202 IN_QUEUE / IN_PROGRESS, 200 COMPLETED;
 * - `GET /{owner}/{app}/requests/{id}` → the app's own answer: 200 `{video: {url, content_type,
 *   file_name, file_size}}`, or its error (422 `{detail: [...]}`, a 5xx `{detail, error_type}`);
 * - `PUT /{owner}/{app}/requests/{id}/cancel` → 202 CANCELLATION_REQUESTED / 400 ALREADY_COMPLETED / 404 NOT_FOUND;
 * - `POST /storage/upload/initiate` (rest.fal.ai's) → `{upload_url, file_url}`; `PUT /uploads/{id}`;
 *   `GET /files/{name}` (the CDN; no key). A request carrying `x-fal-target-url` (the client's
 *   `proxyUrl` mode) is routed by that URL's path.
 * Like fal, the queue takes any JSON input: schema and media errors (a bad `duration`, an
 * undecodable image, a video over 8 s) surface only when the COMPLETED result is read, as 422s.
 * Everything but uploads and files needs `Authorization: Key <apiKey>`.
 *
 * Markers in the prompt keep parallel tests apart: `fake:422`, `fake:429`, `fake:500` (the submit
 * answers so), `fake:content` (completes; the result is a content_policy_violation 422),
 * `fake:fail` (completes with `error_type`; the result is a 500), `fake:never` (stays IN_PROGRESS),
 * `fake:statusfail` (status answers 500).
 */
export interface FakeFal {
  /** Base URL: stands for https://queue.fal.run, https://rest.fal.ai and the file CDN alike. */
  url: string;
  apiKey: string;
  /** Accepted submits; `inputVideoSeconds` is the extension input's length (null otherwise). */
  submits: Array<{ endpoint: string; body: any; inputVideoSeconds: number | null }>;
  /** Every submit request, answered or refused. */
  submitRequests: number;
  statusPolls: number;
  resultReads: number;
  cancels: number;
  downloads: number;
  unauthorized: number;
  /** Endpoints served (default: every Veo 3.1 one); others answer 404. */
  endpoints: Set<string>;
  /** Status polls answering IN_QUEUE (the first half) or IN_PROGRESS before COMPLETED. */
  pollsBeforeDone: number;
  /** New requests stay IN_QUEUE until `release()`. */
  hold: boolean;
  release(): void;
  /** Answers every authorized queue and storage request with this status. */
  alwaysStatus: number | null;
  close(): Promise<void>;
}

type Outcome =
  | { kind: 'video'; name: string; path: string }
  | { kind: 'model'; status: number; detail: FalErrorDetail[] }
  | { kind: 'request'; status: number; detail: string; errorType: string };

interface Job {
  id: string;
  app: string;
  prompt: string;
  created: number;
  polls: number;
  held: boolean;
  cancelled: boolean;
  outcome: Outcome | null;
}

const UNAUTHORIZED = 'No user found for Key ID and Secret';
const BAD_KEY_FORMAT = "Invalid Key Authorization header format. Expected '<key_id>:<key_secret>'.";
const DOWNLOAD_ERROR = 'Failed to download the file. Please check if the URL is accessible and try again.';
const CONTENT_POLICY = 'The content could not be processed because it contained material flagged by a content checker.';
const VIDEO_SIZES = ['1280x720', '720x1280', '1920x1080', '1080x1920'];

export async function startFakeFal(opts: { apiKey?: string } = {}): Promise<FakeFal> {
  await veoClip({ width: 1280, height: 720, seconds: 8, audio: true }); // the common clip, made once per process
  const jobs = new Map<string, Job>();
  const files = new Map<string, { path: string; type: string }>();
  const uploads = new Map<string, { name: string; type: string }>();
  const scratch = randomUUID();

  const fake: FakeFal = {
    url: '',
    apiKey: opts.apiKey ?? 'fake-key-id:fake-key-secret',
    submits: [],
    submitRequests: 0,
    statusPolls: 0,
    resultReads: 0,
    cancels: 0,
    downloads: 0,
    unauthorized: 0,
    endpoints: new Set(VEO_ENDPOINTS),
    pollsBeforeDone: 2,
    hold: false,
    alwaysStatus: null,
    release() {
      for (const job of jobs.values()) job.held = false;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  /** fal's request errors (docs: model-apis/request-errors): a string `detail`, `error_type` and its header. */
  const requestError = (res: ServerResponse, status: number, detail: string, errorType: string, headers: Record<string, string> = {}): void =>
    send(res, status, { detail, error_type: errorType }, { 'x-fal-error-type': errorType, ...headers });
  const model = (status: number, detail: FalErrorDetail[]): Outcome => ({ kind: 'model', status, detail });
  const links = (job: Job) => {
    const base = `${fake.url}/${job.app}/requests/${job.id}`;
    return { request_id: job.id, response_url: base, status_url: `${base}/status`, cancel_url: `${base}/cancel` };
  };
  const queued = (): number => Math.floor(fake.pollsBeforeDone / 2);
  function phase(job: Job): 'IN_QUEUE' | 'IN_PROGRESS' | 'COMPLETED' {
    if (job.cancelled) return 'COMPLETED';
    if (job.held || job.polls <= queued()) return 'IN_QUEUE';
    if (job.prompt.includes('fake:never') || job.polls <= fake.pollsBeforeDone || job.outcome === null) return 'IN_PROGRESS';
    return 'COMPLETED';
  }
  function authError(req: IncomingMessage): string | null {
    const auth = req.headers.authorization ?? '';
    if (auth === `Key ${fake.apiKey}`) return null;
    fake.unauthorized++;
    return /^Key [^:\s]+:\S+$/.test(auth) ? UNAUTHORIZED : BAD_KEY_FORMAT;
  }

  /** An image input: an http(s) URL is taken as is (fal fetches it later), a data URI must decode. */
  function imageError(loc: Array<string | number>, value: string): FalErrorDetail | null {
    if (/^https?:\/\//.test(value)) return null;
    const data = decodeDataUri(value);
    if (!data) return falError(loc, 'file_download_error', DOWNLOAD_ERROR, { input: value.slice(0, 100) });
    if (data.mime.startsWith('image/') && sniffImage(data.bytes)) return null;
    return falError(loc, 'image_load_error', 'Failed to load the image. Please ensure the image is not corrupted and is in a supported format.', {
      input: value.slice(0, 100),
    });
  }

  /** The extension input: a data URI, or a URL of one of this fake's own files. */
  async function loadVideo(value: string): Promise<{ path: string; info: MediaInfo } | FalErrorDetail> {
    const unsupported = falError(['video_url'], 'unsupported_video_format', 'Unsupported video format. Supported formats are .mp4, .mov, .webm, .m4v, .gif.', {
      ctx: { supported_formats: ['.mp4', '.mov', '.webm', '.m4v', '.gif'] },
      input: value.slice(0, 100),
    });
    const data = decodeDataUri(value);
    if (data) {
      if (!data.mime.startsWith('video/')) return unsupported;
      const got = await receiveVideo(scratch, data.bytes);
      return got.info ? { path: got.path, info: got.info } : unsupported;
    }
    const name = value.startsWith(`${fake.url}/files/`) ? decodeURIComponent(value.slice(fake.url.length + 7)) : null;
    const file = name === null ? undefined : files.get(name);
    if (!file) return falError(['video_url'], 'file_download_error', DOWNLOAD_ERROR, { input: value });
    const info = await probeVideo(file.path);
    return info ? { path: file.path, info } : unsupported;
  }

  /** What the app will answer for this input, worked out at submit (the media read included). */
  async function prepare(id: string, endpoint: string, body: any): Promise<{ outcome: Promise<Outcome>; inputVideoSeconds: number | null }> {
    let inputVideoSeconds: number | null = null;
    const done = (o: Outcome) => ({ outcome: Promise.resolve(o), inputVideoSeconds });
    const schema = checkInput(endpoint, body);
    if (schema.length > 0) return done(model(422, schema));
    const kind = endpointKind(endpoint);
    const images: Array<[Array<string | number>, string]> =
      kind === 'reference'
        ? (body.image_urls as string[]).map((u, i) => [['image_urls', i], u])
        : URL_FIELDS[kind].filter((f) => f !== 'video_url').map((f) => [[f], body[f] as string]);
    for (const [loc, value] of images) {
      const bad = imageError(loc, value);
      if (bad) return done(model(422, [bad]));
    }
    let input: { path: string; info: MediaInfo } | null = null;
    if (kind === 'extend') {
      const got = await loadVideo(body.video_url);
      if (!('path' in got)) return done(model(422, [got]));
      const { seconds, width, height } = got.info;
      inputVideoSeconds = seconds;
      const ctx = { provided_duration: Number(seconds.toFixed(2)) };
      if (seconds > 8.1) {
        return done(
          model(422, [
            falError(
              ['video_url'],
              'video_duration_too_long',
              `Video duration exceeds the maximum allowed. Maximum is 8 seconds, provided is ${ctx.provided_duration} seconds.`,
              { ctx: { max_duration: 8, ...ctx }, input: 'video_url' },
            ),
          ]),
        );
      }
      if (seconds < 1) {
        return done(
          model(422, [
            falError(
              ['video_url'],
              'video_duration_too_short',
              `Video duration is too short. Minimum is 1 seconds, provided is ${ctx.provided_duration} seconds.`,
              { ctx: { min_duration: 1, ...ctx }, input: 'video_url' },
            ),
          ]),
        );
      }
      if (!VIDEO_SIZES.includes(`${width}x${height}`)) {
        return done(
          model(422, [
            falError(['video_url'], 'feature_not_supported', `The video must be 720p or 1080p in 16:9 or 9:16; this one is ${width}x${height}.`, {
              input: 'video_url',
            }),
          ]),
        );
      }
      input = got;
    }
    const prompt: string = body.prompt;
    if (prompt.includes('fake:content')) return done(model(422, [falError(['prompt'], 'content_policy_violation', CONTENT_POLICY, { input: body })]));
    if (prompt.includes('fake:fail')) return done({ kind: 'request', status: 500, detail: 'Internal server error', errorType: 'runner_server_error' });
    const name = `${id}.mp4`;
    let render: Promise<string>;
    if (input) {
      render = extendVideo(input.path, input.info, scratchPath(scratch, name));
    } else {
      const first = images[0] ? decodeDataUri(images[0][1]) : null;
      const dims = first ? sniffImage(first.bytes) : null;
      const auto = dims?.width && dims.height && dims.height > dims.width ? '9:16' : '16:9';
      const asked = body.aspect_ratio ?? (kind === 'image' || kind === 'frames' ? 'auto' : '16:9');
      const aspect = asked === 'auto' ? auto : asked;
      const seconds = Number.parseInt(body.duration ?? '8s', 10);
      render = veoClip({ ...clipSize(aspect, body.resolution), seconds, audio: body.generate_audio ?? true });
    }
    const outcome = render.then(
      (path): Outcome => ({ kind: 'video', name, path }),
      (err: unknown): Outcome => ({ kind: 'request', status: 500, detail: `video generation failed: ${String(err)}`, errorType: 'runner_server_error' }),
    );
    return { outcome, inputVideoSeconds };
  }

  async function submit(res: ServerResponse, endpoint: string, raw: Buffer): Promise<void> {
    if (!fake.endpoints.has(endpoint)) return send(res, 404, { detail: `Endpoint ${endpoint} not found` });
    let body: any;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return send(res, 422, { detail: [{ type: 'json_invalid', loc: ['body', 0], msg: 'JSON decode error', input: {}, ctx: { error: 'Expecting value' } }] });
    }
    const prompt = typeof body?.prompt === 'string' ? body.prompt : '';
    if (prompt.includes('fake:422')) {
      return send(res, 422, {
        detail: [{ loc: ['body', 'prompt'], msg: 'Value error, the prompt was refused (fake:422)', type: 'value_error', input: prompt }],
      });
    }
    if (prompt.includes('fake:429')) return send(res, 429, { detail: 'Too many requests. Please try again later.' });
    if (prompt.includes('fake:500')) return requestError(res, 500, 'Internal server error', 'internal_error');
    const id = randomUUID();
    const job: Job = {
      id,
      app: endpoint.split('/').slice(0, 2).join('/'),
      prompt,
      created: Date.now(),
      polls: 0,
      held: fake.hold,
      cancelled: false,
      outcome: null,
    };
    const { outcome, inputVideoSeconds } = await prepare(id, endpoint, body);
    void outcome.then((o) => {
      if (o.kind === 'video') files.set(o.name, { path: o.path, type: 'video/mp4' });
      job.outcome = o;
    });
    jobs.set(id, job);
    fake.submits.push({ endpoint, body, inputVideoSeconds });
    send(res, 200, { status: 'IN_QUEUE', ...links(job), queue_position: job.held ? 0 : queued() }, { 'x-fal-request-id': id });
  }

  function status(res: ServerResponse, job: Job, logs: boolean): void {
    fake.statusPolls++;
    if (job.prompt.includes('fake:statusfail')) return requestError(res, 500, 'Internal server error', 'internal_error');
    if (!job.held) job.polls++;
    const state = phase(job);
    const body: Record<string, unknown> = { status: state, ...links(job) };
    if (state === 'IN_QUEUE') body.queue_position = job.held ? 0 : Math.max(0, queued() - job.polls);
    else
      body.logs = logs
        ? [{ message: state === 'COMPLETED' ? 'Video generated.' : 'Generating video...', level: 'INFO', source: 'USER', timestamp: new Date().toISOString() }]
        : [];
    if (state === 'COMPLETED') {
      body.metrics = { inference_time: (Date.now() - job.created) / 1000 };
      if (job.cancelled) Object.assign(body, { error: 'Request cancelled by the client', error_type: 'client_cancelled' });
      else if (job.outcome?.kind === 'request') Object.assign(body, { error: job.outcome.detail, error_type: job.outcome.errorType });
    }
    send(res, state === 'COMPLETED' ? 200 : 202, body, { 'x-fal-request-id': job.id });
  }

  async function result(res: ServerResponse, job: Job): Promise<void> {
    fake.resultReads++;
    const headers = { 'x-fal-request-id': job.id };
    if (phase(job) !== 'COMPLETED') return send(res, 400, { detail: 'Request is still in progress' }, headers);
    if (job.cancelled) return requestError(res, 499, 'Request cancelled by the client', 'client_cancelled', headers);
    const o = job.outcome!;
    if (o.kind === 'model') return send(res, o.status, { detail: o.detail }, { ...headers, 'x-fal-retryable': 'false' });
    if (o.kind === 'request') return requestError(res, o.status, o.detail, o.errorType, headers);
    const video = { url: `${fake.url}/files/${o.name}`, content_type: 'video/mp4', file_name: o.name, file_size: (await stat(o.path)).size };
    send(res, 200, { video }, headers);
  }

  function cancel(res: ServerResponse, job: Job | undefined): void {
    fake.cancels++;
    if (!job) return send(res, 404, { status: 'NOT_FOUND' });
    if (phase(job) === 'COMPLETED') return send(res, 400, { status: 'ALREADY_COMPLETED' });
    job.cancelled = true;
    send(res, 202, { status: 'CANCELLATION_REQUESTED' });
  }

  async function serveFile(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    const file = files.get(name);
    if (!file) return send(res, 404, { detail: 'File not found' });
    const size = (await stat(file.path)).size;
    res.writeHead(200, { 'content-type': file.type, 'content-length': String(size) });
    if (req.method === 'HEAD') return void res.end();
    fake.downloads++;
    createReadStream(file.path).pipe(res);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url = new URL(req.url ?? '/', 'http://fake');
    const target = req.headers['x-fal-target-url'];
    if (typeof target === 'string' && URL.canParse(target)) {
      const t = new URL(target);
      url = new URL(t.pathname + t.search, 'http://fake');
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const method = req.method ?? 'GET';
    const file = /^\/files\/([^/]+)$/.exec(url.pathname);
    if (file && (method === 'GET' || method === 'HEAD')) return serveFile(req, res, decodeURIComponent(file[1]!));
    const upload = /^\/uploads\/([^/]+)$/.exec(url.pathname);
    if (upload && method === 'PUT') {
      const pending = uploads.get(upload[1]!);
      if (!pending) return send(res, 404, { detail: 'Upload not found' });
      const path = scratchPath(scratch, pending.name);
      await writeFile(path, raw);
      files.set(pending.name, { path, type: pending.type });
      uploads.delete(upload[1]!);
      res.writeHead(200);
      return void res.end();
    }

    const seg = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const onRequest = seg.length >= 4 && seg[2] === 'requests';
    const verb = onRequest ? `${method} ${seg.slice(4).join('/')}` : null;
    const initiate = url.pathname === '/storage/upload/initiate' && method === 'POST';
    const isSubmit = !onRequest && !initiate && method === 'POST' && seg.length >= 2;
    if (!initiate && !isSubmit && verb !== 'GET ' && verb !== 'GET status' && verb !== 'PUT cancel') return send(res, 404, { detail: 'Not Found' });
    if (isSubmit) fake.submitRequests++;
    const denied = authError(req);
    if (denied) return send(res, 401, { detail: denied });
    if (fake.alwaysStatus !== null) return requestError(res, fake.alwaysStatus, `fake upstream answers ${fake.alwaysStatus} to everything`, 'internal_error');
    if (isSubmit) return submit(res, seg.join('/'), raw);
    if (initiate) {
      let init: { content_type?: string; file_name?: string } = {};
      try {
        init = JSON.parse(raw.toString('utf8'));
      } catch {
        /* a missing body names nothing */
      }
      const id = randomUUID();
      const name = `${id}-${(init.file_name ?? 'upload.bin').replace(/[^A-Za-z0-9._-]/g, '_')}`;
      uploads.set(id, { name, type: init.content_type ?? 'application/octet-stream' });
      return send(res, 200, { upload_url: `${fake.url}/uploads/${id}`, file_url: `${fake.url}/files/${name}` });
    }
    const job = jobs.get(seg[3]!);
    const found = job && job.app === `${seg[0]}/${seg[1]}` ? job : undefined;
    if (verb === 'PUT cancel') return cancel(res, found);
    if (!found) return send(res, 404, { detail: `Request ${seg[3]} not found` });
    return verb === 'GET status' ? status(res, found, url.searchParams.get('logs') === '1') : result(res, found);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) requestError(res, 500, String(err), 'internal_error');
      else res.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

import { execFile } from 'node:child_process';
import { createReadStream, rmSync } from 'node:fs';
import { mkdtemp, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { resolveFfmpeg } from '../../src/engines/ffmpeg.js';

/**
 * A stand-in for Google's Gemini API (generativelanguage.googleapis.com) over real HTTP, speaking
 * the documented REST shapes of Veo: `POST /v1beta/models/{model}:predictLongRunning` →
 * `{name}`; `GET /v1beta/{name}` → the Operation; `GET /v1beta/files/{id}:download?alt=media`
 * → the MP4. Every call needs `x-goog-api-key` (403 without).
 *
 * Behaviour per task is chosen by markers in the prompt, so parallel tests do not interfere:
 * `fake:400` (submit refused), `fake:429` / `fake:500` (every submit answers so),
 * `fake:429once` (the first submit only), `fake:rai` (done, filtered), `fake:never` (never done),
 * `fake:error3` / `fake:error13` (done with an error of that google.rpc code), `fake:poll500`.
 * `hold` keeps new operations running until `release()`; `alwaysStatus` answers every request so.
 */
export interface FakeGemini {
  url: string;
  apiKey: string;
  /** Accepted submits (operations created), with their model and body. */
  submits: Array<{ model: string; body: any }>;
  /** Every submit request, answered or refused. */
  submitRequests: number;
  polls: number;
  downloads: number;
  /** Requests without the right key. */
  unauthorized: number;
  hold: boolean;
  alwaysStatus: number | null;
  /** Models it serves (default: the Veo 3.1 preview ids); `retired` ones answer 404 "no longer available". */
  models: Set<string>;
  retired: Set<string>;
  /** Model ids asked for by `GET /v1beta/models/{model}`. */
  modelGets: string[];
  /** Polls an operation answers `done: false` before it is done. */
  pollsBeforeDone: number;
  release(): void;
  close(): Promise<void>;
}

interface Op {
  id: string;
  model: string;
  prompt: string;
  extend: boolean;
  polls: number;
  held: boolean;
}

const run = promisify(execFile);
const GOOGLE = 'https://generativelanguage.googleapis.com';

/** Makes real 1280×720 H.264/AAC MP4s of `seconds` with the bundled ffmpeg. */
async function makeMp4(dir: string, seconds: number): Promise<string> {
  const out = join(dir, `${seconds}s.mp4`);
  await run(resolveFfmpeg(), [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    'color=c=teal:size=1280x720:rate=24',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440',
    '-t',
    String(seconds),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    out,
  ]);
  return out;
}

/** The clips are made once per test process and shared by every fake (removed at exit). */
let clips: Promise<[string, string]> | null = null;
function sharedClips(): Promise<[string, string]> {
  clips ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fake-gemini-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return Promise.all([makeMp4(dir, 8), makeMp4(dir, 15)]);
  })();
  return clips;
}

/** The service's configuration that sends every task, whatever its provider, to `fake` (the gemini engine). */
export function onlyGeminiEnv(fake: FakeGemini): Record<string, string> {
  return { GEMINI_API_KEY: fake.apiKey, LONGSHOT_GEMINI_BASE_URL: fake.url, LONGSHOT_ROUTES: 'official=gemini;value=gemini;auto=gemini' };
}

export async function startFakeGemini(opts: { apiKey?: string } = {}): Promise<FakeGemini> {
  const [clip8, clip15] = await sharedClips();
  const ops = new Map<string, Op>();
  const files = new Map<string, string>();
  const onceSeen = new Set<string>();
  let seq = 0;

  const fake: FakeGemini = {
    url: '',
    apiKey: opts.apiKey ?? 'test-gemini-key',
    submits: [],
    submitRequests: 0,
    polls: 0,
    downloads: 0,
    unauthorized: 0,
    hold: false,
    alwaysStatus: null,
    models: new Set(['veo-3.1-generate-preview', 'veo-3.1-fast-generate-preview']),
    retired: new Set(),
    modelGets: [],
    pollsBeforeDone: 1,
    release() {
      for (const op of ops.values()) op.held = false;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(body));
  };
  const googleError = (res: ServerResponse, code: number, status: string, message: string): void => send(res, code, { error: { code, message, status } });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.headers['x-goog-api-key'] !== fake.apiKey && url.searchParams.get('key') !== fake.apiKey) {
      fake.unauthorized++;
      return googleError(res, 403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers. Please use an API Key.");
    }
    const submit = /^\/v1beta\/models\/([^/:]+):predictLongRunning$/.exec(url.pathname);
    if (submit) fake.submitRequests++;
    if (fake.alwaysStatus !== null) return googleError(res, fake.alwaysStatus, 'INTERNAL', 'An internal error has occurred.');

    const modelGet = /^\/v1beta\/models\/([^/:]+)$/.exec(url.pathname);
    if (req.method === 'GET' && modelGet) {
      const model = decodeURIComponent(modelGet[1]!);
      fake.modelGets.push(model);
      if (fake.retired.has(model))
        return googleError(res, 404, 'NOT_FOUND', `This model models/${model} is no longer available. Please update your code to use a newer model.`);
      if (!fake.models.has(model)) return googleError(res, 404, 'NOT_FOUND', `Model is not found: models/${model} for api version v1beta`);
      return send(res, 200, { name: `models/${model}`, version: '3.1', displayName: model, supportedGenerationMethods: ['predictLongRunning'] });
    }

    if (req.method === 'POST' && submit) {
      const model = decodeURIComponent(submit[1]!);
      if (fake.retired.has(model))
        return googleError(res, 404, 'NOT_FOUND', `This model models/${model} is no longer available. Please update your code to use a newer model.`);
      if (!fake.models.has(model))
        return googleError(res, 404, 'NOT_FOUND', `models/${model} is not found for API version v1beta, or is not supported for predictLongRunning.`);
      let body: any;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return googleError(res, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
      }
      const inst = body?.instances?.[0];
      if (typeof inst?.prompt !== 'string') return googleError(res, 400, 'INVALID_ARGUMENT', 'instances[0].prompt is required');
      const prompt: string = inst.prompt;
      if (prompt.includes('fake:400')) return googleError(res, 400, 'INVALID_ARGUMENT', 'The request is invalid (fake:400).');
      if (prompt.includes('fake:429once') && !onceSeen.has(prompt)) {
        onceSeen.add(prompt);
        return googleError(res, 429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).');
      }
      if (/fake:429(?!once)/.test(prompt)) return googleError(res, 429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).');
      if (prompt.includes('fake:500')) return googleError(res, 500, 'INTERNAL', 'An internal error has occurred.');
      let extend = false;
      if (inst.video !== undefined) {
        const id = /\/files\/([^/:]+):download/.exec(String(inst.video?.uri ?? ''))?.[1];
        if (!id || !files.has(id)) return googleError(res, 400, 'INVALID_ARGUMENT', 'instances[0].video is not a video generated by Veo');
        extend = true;
      }
      const id = `op${++seq}x${Math.random().toString(36).slice(2, 8)}`;
      ops.set(id, { id, model, prompt, extend, polls: 0, held: fake.hold });
      fake.submits.push({ model, body });
      return send(res, 200, { name: `models/${model}/operations/${id}` });
    }

    const poll = /^\/v1beta\/models\/([^/]+)\/operations\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && poll) {
      fake.polls++;
      const op = ops.get(poll[2]!);
      const name = url.pathname.slice('/v1beta/'.length);
      if (!op || op.model !== poll[1]) return googleError(res, 404, 'NOT_FOUND', 'Operation not found');
      if (op.prompt.includes('fake:poll500')) return googleError(res, 500, 'INTERNAL', 'An internal error has occurred.');
      op.polls++;
      if (op.held || op.prompt.includes('fake:never') || op.polls <= fake.pollsBeforeDone) return send(res, 200, { name, done: false });
      const code = /fake:error(\d+)/.exec(op.prompt)?.[1];
      if (code) return send(res, 200, { name, done: true, error: { code: Number(code), message: `fake operation error ${code}` } });
      const type = 'type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse';
      if (op.prompt.includes('fake:rai')) {
        return send(res, 200, {
          name,
          done: true,
          response: {
            '@type': type,
            generateVideoResponse: {
              raiMediaFilteredCount: 1,
              raiMediaFilteredReasons: ['We encountered an issue with the audio for your prompt. You have not been charged.'],
            },
          },
        });
      }
      const fileId = `f${op.id}`;
      files.set(fileId, op.extend ? clip15 : clip8);
      return send(res, 200, {
        name,
        done: true,
        response: {
          '@type': type,
          generateVideoResponse: {
            generatedSamples: [{ video: { uri: `${GOOGLE}/v1beta/files/${fileId}:download?alt=media` } }],
          },
        },
      });
    }

    const download = /^\/v1beta\/files\/([^/:]+):download$/.exec(url.pathname);
    if (req.method === 'GET' && download && url.searchParams.get('alt') === 'media') {
      const path = files.get(download[1]!);
      if (!path) return googleError(res, 404, 'NOT_FOUND', 'File not found');
      fake.downloads++;
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String((await stat(path)).size) });
      createReadStream(path).pipe(res);
      return;
    }
    return googleError(res, 404, 'NOT_FOUND', `no route ${req.method} ${url.pathname}`);
  }
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) googleError(res, 500, 'INTERNAL', String(err));
      else res.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

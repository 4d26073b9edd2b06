import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { LongshotApiError, LongshotError, LongshotNetworkError, TaskFailedError, WaitTimeoutError } from './errors.js';
import { abortableSleep, parseRetryAfter, RETRYABLE_STATUSES, retryDelay } from './retry.js';
import type {
  DownloadResult,
  Envelope,
  ExtendInput,
  GenerateInput,
  Model,
  SubmitOptions,
  TaskLineage,
  TaskListQuery,
  TaskPage,
  TaskStatus,
  WaitOptions,
} from './types.js';
import { type VerifyWebhookOptions, verifyWebhook, type WebhookHeaders, type WebhookPayload } from './webhook.js';

export const DEFAULT_BASE_URL = 'http://127.0.0.1:3000/api/v1';

export interface LongshotClientOptions {
  /**
   * The API root, e.g. `http://127.0.0.1:3000/api/v1` or `https://api.apixo.ai/api/v1`; a bare
   * origin such as `http://127.0.0.1:3000` means its `/api/v1`. Default: `LONGSHOT_BASE_URL`, else the local default.
   */
  baseUrl?: string;
  /** Default: `LONGSHOT_API_KEY`. */
  apiKey?: string;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof globalThis.fetch;
  /** First poll of wait(), in ms after the task's creation; overrides the per-mode advice (30 s fast, 60 s quality). */
  pollFirstDelayMs?: number;
  /** Interval between polls of wait() (default 10 s, the seed page's advice). */
  pollIntervalMs?: number;
  /** Retries of one call on 429, 5xx and network errors (default 3, so at most 4 attempts). */
  maxRetries?: number;
  /** A single attempt is abandoned (and retried) after this long (default 60 s). */
  requestTimeoutMs?: number;
  /** A Retry-After longer than this is not waited for: the call fails with `retryAfter` set (default 120 s). */
  maxRetryAfterMs?: number;
  /** Replaces the timer used between retries and polls (tests inject one to observe delays). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Random source for backoff jitter, in [0, 1). */
  random?: () => number;
  /** Told about every retry before its delay starts (for progress displays and logs). */
  onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  method: string;
  url: string;
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
  /** The HTTP status that caused the retry, or undefined for a network error. */
  status?: number;
  /** The Retry-After the server asked for, in ms. */
  retryAfterMs?: number;
  error?: Error;
}

interface CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** False for result files: signed URLs need no key, and a key must never leave for another host. */
  auth?: boolean;
}

const env = (name: string): string | undefined => {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name]?.trim();
  return v ? v : undefined;
};

/**
 * A client for the APIXO video-task API (`veo-3-1`, `veo-3-1-extend`), as served by Longshot
 * or by api.apixo.ai. Every call retries on 429 and 5xx with backoff that honours Retry-After.
 */
export class LongshotClient {
  readonly baseUrl: string;
  readonly #apiKey: string | undefined;
  readonly #fetch: typeof globalThis.fetch;
  readonly #opts: LongshotClientOptions;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #random: () => number;
  /** taskId → local time its submit returned, so wait() can schedule the first poll. */
  readonly #submittedAt = new Map<string, number>();

  constructor(opts: LongshotClientOptions = {}) {
    this.baseUrl = apiRoot(opts.baseUrl ?? env('LONGSHOT_BASE_URL') ?? DEFAULT_BASE_URL);
    this.#apiKey = opts.apiKey ?? env('LONGSHOT_API_KEY');
    this.#fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.#opts = opts;
    this.#sleep = opts.sleep ?? abortableSleep;
    this.#random = opts.random ?? Math.random;
  }

  /** Submits a `veo-3-1` task; returns its taskId. */
  async generate(input: GenerateInput, opts: SubmitOptions = {}): Promise<string> {
    return this.#submit('veo-3-1', { ...input }, opts);
  }

  /** Submits a `veo-3-1-extend` task continuing `taskId` (a successful veo-3-1 or extend task); returns the new taskId. */
  async extend(taskId: string, input: ExtendInput, opts: SubmitOptions = {}): Promise<string> {
    return this.#submit('veo-3-1-extend', { ...input, taskId }, opts);
  }

  /**
   * One status read. A failed task is a normal answer (state `failed`), not an exception.
   * `waitSeconds` (Longshot addition, 1–60): the server holds the answer until the task changes
   * or that time passes; APIXO ignores it and answers at once.
   */
  async status(model: Model, taskId: string, opts: { signal?: AbortSignal; waitSeconds?: number } = {}): Promise<TaskStatus> {
    const wait = opts.waitSeconds !== undefined && opts.waitSeconds > 0 ? `&wait=${Math.min(60, Math.ceil(opts.waitSeconds))}` : '';
    const data = await this.#call<Record<string, unknown>>('GET', `/statusTask/${encodeURIComponent(model)}?taskId=${encodeURIComponent(taskId)}${wait}`, {
      signal: opts.signal,
    });
    return withResultUrls(data);
  }

  /**
   * Polls until the task is final, following APIXO's advice: the first poll 30 s (fast) or 60 s
   * (quality) after the task's creation, then every 10 s. Resolves with the status on success;
   * throws TaskFailedError on failure, WaitTimeoutError after `timeoutMs`, the signal's reason on abort.
   */
  async wait(model: Model, taskId: string, opts: WaitOptions = {}): Promise<TaskStatus> {
    const started = Date.now();
    const interval = opts.intervalMs ?? this.#opts.pollIntervalMs ?? 10_000;
    const firstDelay = opts.firstPollMs ?? this.#opts.pollFirstDelayMs ?? (opts.mode === 'quality' ? 60_000 : 30_000);
    const deadline = opts.timeoutMs === undefined ? Infinity : started + opts.timeoutMs;
    const submittedAt = this.#submittedAt.get(taskId);
    // A task this client submitted: poll first at submit + firstDelay. Any other task: read it
    // now (it may be long finished), then use its createTime.
    let delay = submittedAt === undefined ? 0 : Math.max(0, submittedAt + firstDelay - started);
    let last: TaskStatus | null = null;
    for (let polls = 1; ; polls++) {
      const remaining = deadline - Date.now();
      if (delay > 0) await this.#sleep(Math.min(delay, Math.max(0, remaining)), opts.signal);
      opts.signal?.throwIfAborted();
      last = await this.status(model, taskId, { signal: opts.signal });
      opts.onProgress?.(last, { elapsedMs: Date.now() - started, polls });
      if (last.state === 'success') {
        this.#submittedAt.delete(taskId);
        return last;
      }
      if (last.state === 'failed') {
        this.#submittedAt.delete(taskId);
        throw new TaskFailedError(last);
      }
      if (Date.now() >= deadline) throw new WaitTimeoutError(taskId, last, opts.timeoutMs ?? 0);
      delay = interval;
      if (polls === 1 && submittedAt === undefined && Number.isFinite(last.createTime)) {
        // Server clock vs ours: clamp, so skew can neither hammer the API nor stall the wait.
        delay = Math.min(firstDelay, Math.max(interval, last.createTime + firstDelay - Date.now()));
      }
    }
  }

  /** The available balance in USD. */
  async balance(opts: { signal?: AbortSignal } = {}): Promise<number> {
    const data = await this.#call<unknown>('GET', '/apikeys/current-balance', { signal: opts.signal });
    if (typeof data !== 'number') throw new LongshotError(`the balance route answered ${JSON.stringify(data)}, not a number`);
    return data;
  }

  /**
   * Longshot addition: this key's tasks, newest first, one page (`limit` 1–100, default 20); pass
   * `nextCursor` back as `cursor` for the next. Each is the status data plus its `model`.
   */
  async listTasks(query: TaskListQuery = {}, opts: { signal?: AbortSignal } = {}): Promise<TaskPage> {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
    const qs = params.size > 0 ? `?${params}` : '';
    const data = await this.#call<{ tasks: Array<Record<string, unknown>>; nextCursor: string | null }>('GET', `/tasks${qs}`, { signal: opts.signal });
    return { tasks: data.tasks.map((t) => withResultUrls(t) as TaskStatus & { model: Model }), nextCursor: data.nextCursor ?? null };
  }

  /** Longshot addition: the models the server serves, with modes, prices, limits and input schemas (docs/api.md, models). */
  async models(opts: { signal?: AbortSignal } = {}): Promise<unknown[]> {
    const data = await this.#call<{ models?: unknown }>('GET', '/models', { signal: opts.signal });
    if (!Array.isArray(data?.models)) throw new LongshotError(`the models route answered ${JSON.stringify(data)}, not a catalogue`);
    return data.models;
  }

  /**
   * Longshot addition: the extension tree `taskId` belongs to, from its root generation down every
   * branch, as a flat list of nodes with parent ids (parents first). See docs/api.md, lineage.
   */
  async lineage(taskId: string, opts: { signal?: AbortSignal } = {}): Promise<TaskLineage> {
    return this.#call<TaskLineage>('GET', `/tasks/${encodeURIComponent(taskId)}/lineage`, { signal: opts.signal });
  }

  /**
   * Longshot addition: deletes a finished task's result files (the task stays, marked deleted;
   * its URLs answer 410). Idempotent, so it is retried like a read. Resolves with the task's status.
   */
  async deleteTask(taskId: string, opts: { signal?: AbortSignal } = {}): Promise<TaskStatus> {
    return withResultUrls(await this.#call<Record<string, unknown>>('DELETE', `/tasks/${encodeURIComponent(taskId)}`, { signal: opts.signal }));
  }

  /**
   * Streams a result URL to `path` (parent directories are created). The file appears only when
   * complete: the bytes go to a temporary file beside it that is renamed into place. No API key
   * is sent: result URLs are signed.
   */
  async download(url: string, path: string, opts: { signal?: AbortSignal } = {}): Promise<DownloadResult> {
    const res = await this.#send('GET', url, { signal: opts.signal, auth: false });
    if (!res.body) throw new LongshotNetworkError(`GET ${redact(url)} returned no body`);
    await mkdir(dirname(path), { recursive: true });
    const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.part`);
    let bytes = 0;
    const counted = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
    counted.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    try {
      await pipeline(counted, createWriteStream(tmp, { flags: 'wx' }), { signal: opts.signal });
      const expected = Number(res.headers.get('content-length'));
      if (res.headers.has('content-length') && Number.isFinite(expected) && expected !== bytes) {
        throw new LongshotNetworkError(`download ended after ${bytes} of ${expected} bytes`);
      }
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      if (err instanceof LongshotError || opts.signal?.aborted) throw err;
      throw new LongshotNetworkError(`download of ${redact(url)} failed: ${(err as Error).message}`, { cause: err });
    }
    return { path, bytes, contentType: res.headers.get('content-type') };
  }

  /** See {@link verifyWebhook}: checks a callback's Standard Webhooks signature and returns its payload. */
  verifyWebhook<T = WebhookPayload>(rawBody: string | Uint8Array, headers: WebhookHeaders, secret: string, opts?: VerifyWebhookOptions): T {
    return verifyWebhook<T>(rawBody, headers, secret, opts);
  }

  async #submit(model: Model, input: Record<string, unknown>, opts: SubmitOptions): Promise<string> {
    const body: Record<string, unknown> = { request_type: opts.requestType ?? (opts.callbackUrl ? 'callback' : 'async'), input };
    if (opts.callbackUrl !== undefined) body.callback_url = opts.callbackUrl;
    if (opts.callbackEvents !== undefined) body.callback_events = opts.callbackEvents;
    if (opts.provider !== undefined) body.provider = opts.provider;
    const headers: Record<string, string> = {};
    // One key for all retries of this call: a submit retried after a lost response is not a second task.
    if (opts.idempotencyKey !== false) headers['idempotency-key'] = opts.idempotencyKey ?? randomUUID();
    const data = await this.#call<{ taskId?: unknown }>('POST', `/generateTask/${model}`, { body, headers, signal: opts.signal });
    if (typeof data?.taskId !== 'string') throw new LongshotError(`the submit answered without a taskId: ${JSON.stringify(data)}`);
    this.#submittedAt.set(data.taskId, Date.now());
    if (this.#submittedAt.size > 1000) this.#submittedAt.delete(this.#submittedAt.keys().next().value!);
    return data.taskId;
  }

  /** An API call: the envelope's `data` on success, LongshotApiError otherwise. */
  async #call<T>(method: string, path: string, opts: CallOptions): Promise<T> {
    const res = await this.#send(method, this.baseUrl + path, { ...opts, auth: true });
    const text = await res.text();
    const env = parseJson(text) as Envelope<T> | undefined;
    if (!env || typeof env !== 'object' || !('data' in env)) {
      throw new LongshotApiError(res.status, `${method} ${path} answered with a body that is not an API envelope`, requestIdOf(res));
    }
    // APIXO's envelope repeats the status in `code`; trust it if it disagrees with a 200.
    if (typeof env.code === 'number' && env.code >= 400) throw toApiError(env.code, env, res, null);
    return env.data;
  }

  /**
   * One request with retries on 429/5xx and network errors. Returns an OK response (its body
   * unread); any final failure becomes a LongshotApiError or LongshotNetworkError.
   */
  async #send(method: string, url: string, opts: CallOptions): Promise<Response> {
    if (opts.auth && !this.#apiKey) {
      throw new LongshotApiError(401, 'no API key: pass apiKey or set LONGSHOT_API_KEY', {});
    }
    const headers: Record<string, string> = { accept: 'application/json', ...(opts.headers ?? {}) };
    if (opts.auth) headers.authorization = `Bearer ${this.#apiKey}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    const maxRetries = this.#opts.maxRetries ?? 3;
    for (let attempt = 0; ; attempt++) {
      opts.signal?.throwIfAborted();
      const timeoutMs = this.#opts.requestTimeoutMs ?? 60_000;
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = opts.signal ? anySignal(opts.signal, timeout) : timeout;
      let res: Response;
      try {
        res = await this.#fetch(url, { method, headers, body, signal });
      } catch (err) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        const reason = timeout.aborted ? `timed out after ${timeoutMs} ms` : describeNetworkError(err);
        const error = new LongshotNetworkError(`${method} ${redact(url)}: ${reason}`, { cause: err });
        if (attempt >= maxRetries) throw error;
        await this.#pause({ method, url, attempt: attempt + 1, delayMs: retryDelay(attempt + 1, null, this.#random), error }, opts.signal);
        continue;
      }
      if (res.ok) return res;

      const text = await res.text().catch(() => '');
      const env = parseJson(text) as Envelope<unknown> | undefined;
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), Date.now()) ?? bodyRetryAfter(env);
      const retryable = RETRYABLE_STATUSES.has(res.status);
      const tooLong = retryAfterMs !== null && retryAfterMs > (this.#opts.maxRetryAfterMs ?? 120_000);
      if (!retryable || attempt >= maxRetries || tooLong) throw toApiError(res.status, env, res, retryAfterMs);
      const info: RetryInfo = { method, url, attempt: attempt + 1, delayMs: retryDelay(attempt + 1, retryAfterMs, this.#random), status: res.status };
      if (retryAfterMs !== null) info.retryAfterMs = retryAfterMs;
      await this.#pause(info, opts.signal);
    }
  }

  async #pause(info: RetryInfo, signal: AbortSignal | undefined): Promise<void> {
    this.#opts.onRetry?.({ ...info, url: redact(info.url) });
    await this.#sleep(info.delayMs, signal);
  }
}

/**
 * The API root from the address a person types. A bare origin (`http://127.0.0.1:3000`, what the
 * server prints when it starts) means its `/api/v1`; an address with a path is the API root itself
 * (`…/api/v1` as in the docs, or a proxy's own prefix). Trailing slashes do not matter.
 */
function apiRoot(typed: string): string {
  const base = typed.trim().replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    return base; // not a URL: the first request says so
  }
  return url.pathname === '/' && !url.search && !url.hash ? `${base}/api/v1` : base;
}

/** `AbortSignal.any` (Node 20.3+), with a fallback for older 20.x releases. */
function anySignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  if (typeof AbortSignal.any === 'function') return AbortSignal.any([a, b]);
  const controller = new AbortController();
  for (const s of [a, b]) {
    if (s.aborted) controller.abort(s.reason);
    else s.addEventListener('abort', () => controller.abort(s.reason), { once: true });
  }
  return controller.signal;
}

function withResultUrls(data: Record<string, unknown>): TaskStatus {
  let resultUrls: string[] = [];
  if (typeof data.resultJson === 'string') {
    const parsed = parseJson(data.resultJson) as { resultUrls?: unknown } | undefined;
    if (Array.isArray(parsed?.resultUrls)) resultUrls = parsed.resultUrls.filter((u): u is string => typeof u === 'string');
  }
  return { ...data, resultUrls } as TaskStatus;
}

function toApiError(status: number, env: Envelope<unknown> | undefined, res: Response, retryAfterMs: number | null): LongshotApiError {
  const data = env?.data;
  const d = data && typeof data === 'object' ? (data as Record<string, unknown>) : {};
  const message =
    typeof d.error === 'string' ? d.error : typeof env?.message === 'string' && env.message ? env.message : `HTTP ${status} ${res.statusText}`.trim();
  const fields: ConstructorParameters<typeof LongshotApiError>[2] = { ...requestIdOf(res) };
  if (typeof d.failCode === 'string') fields.failCode = d.failCode;
  if (typeof d.field === 'string') fields.field = d.field;
  if (retryAfterMs !== null) fields.retryAfter = Math.ceil(retryAfterMs / 1000);
  else if (typeof d.retryAfter === 'number') fields.retryAfter = d.retryAfter;
  if (data !== undefined) fields.data = data;
  return new LongshotApiError(status, message, fields);
}

function requestIdOf(res: Response): { requestId?: string } {
  const id = res.headers.get('x-request-id');
  return id ? { requestId: id } : {};
}

function bodyRetryAfter(env: Envelope<unknown> | undefined): number | null {
  const v = (env?.data as { retryAfter?: unknown } | null | undefined)?.retryAfter;
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v * 1000 : null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  const message = (err as Error)?.message ?? String(err);
  return cause?.message ? `${message} (${cause.message})` : message;
}

/** Signed URLs are credentials: keep their query string out of messages and logs. */
function redact(url: string): string {
  const q = url.indexOf('?');
  return q < 0 || !/[?&](sig|signature|token|key)=/i.test(url) ? url : `${url.slice(0, q)}?…`;
}

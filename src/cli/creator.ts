import { type ParseArgsConfig, parseArgs } from 'node:util';
import {
  DEFAULT_BASE_URL,
  type ExtendInput,
  type GenerateInput,
  LongshotApiError,
  LongshotClient,
  type Mode,
  type Model,
  TaskFailedError,
  type TaskStatus,
  WaitTimeoutError,
} from '../client/index.js';
import { CliError } from './cli-error.js';
import { classify, EXIT } from './exit-codes.js';
import { createProgress, formatElapsed, type OutStream, type Progress, paint } from './progress.js';

/** The creator commands: they talk to a running service over HTTP, never to its database. */
export const CREATOR_COMMANDS: ReadonlySet<string> = new Set(['generate', 'extend', 'status', 'balance']);

export { CREATOR_HELP } from './creator-help.js';

export interface CreatorIo {
  stdout: OutStream;
  stderr: OutStream;
  env: Record<string, string | undefined>;
  /** Registers a Ctrl-C handler; returns its remover. */
  onInterrupt(handler: () => void): () => void;
}

// A closed stdout (`longshot … | head -1`) is handled once for every command, in main.ts.
const processIo = (): CreatorIo => ({
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  onInterrupt(handler) {
    process.on('SIGINT', handler);
    return () => process.off('SIGINT', handler);
  },
});

const COMMON = {
  'base-url': { type: 'string' },
  'api-key': { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];
const WAITING = {
  wait: { type: 'boolean' },
  out: { type: 'string' },
  timeout: { type: 'string' },
  'first-poll': { type: 'string' },
  'poll-interval': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

type Values = Record<string, string | boolean | string[] | undefined>;

/** Runs one creator command; returns the exit code (see exit-codes.ts). Never throws. */
export async function runCreator(cmd: string, args: string[], io: CreatorIo = processIo()): Promise<number> {
  const json = args.includes('--json');
  try {
    switch (cmd) {
      case 'generate':
        return await generate(args, io);
      case 'extend':
        return await extend(args, io);
      case 'status':
        return await status(args, io);
      case 'balance':
        return await balance(args, io);
      default:
        throw new CliError(`unknown command "${cmd}"`);
    }
  } catch (err) {
    return report(err, io, json);
  }
}

async function generate(args: string[], io: CreatorIo): Promise<number> {
  const { values, positionals } = parse(args, {
    ...COMMON,
    ...WAITING,
    mode: { type: 'string' },
    aspect: { type: 'string' },
    type: { type: 'string' },
    image: { type: 'string', multiple: true },
    seed: { type: 'string' },
    watermark: { type: 'string' },
  });
  checkWaitFlags(values);
  const prompt = positionals.join(' ');
  if (!prompt.trim()) throw new CliError('generate needs a PROMPT, e.g. longshot generate "a calm ocean at sunset"');
  const input: GenerateInput = { prompt };
  const mode = oneOf(values.mode, '--mode', ['fast', 'quality'] as const);
  if (mode) input.mode = mode;
  const aspect = oneOf(values.aspect, '--aspect', ['16:9', '9:16', 'auto'] as const);
  if (aspect) input.aspect_ratio = aspect;
  const type = oneOf(values.type, '--type', ['TEXT_2_VIDEO', 'FIRST_AND_LAST_FRAMES_2_VIDEO', 'REFERENCE_2_VIDEO'] as const);
  if (type) input.generationType = type;
  const images = values.image as string[] | undefined;
  if (images?.length) input.image_urls = images;
  addCommon(input, values);
  const notes: Notes = { current: null };
  const client = makeClient(values, io, notes);
  const taskId = await client.generate(input);
  return afterSubmit(client, 'veo-3-1', taskId, mode ?? 'quality', values, io, notes);
}

async function extend(args: string[], io: CreatorIo): Promise<number> {
  const { values, positionals } = parse(args, {
    ...COMMON,
    ...WAITING,
    mode: { type: 'string' },
    seed: { type: 'string' },
    watermark: { type: 'string' },
  });
  checkWaitFlags(values);
  const [source, ...words] = positionals;
  const prompt = words.join(' ');
  if (!source || !prompt.trim()) throw new CliError('extend needs TASK_ID and PROMPT, e.g. longshot extend 0193… "continue the shot"');
  const input: ExtendInput = { prompt };
  const mode = oneOf(values.mode, '--mode', ['fast', 'quality'] as const);
  if (mode) input.mode = mode;
  addCommon(input, values);
  const notes: Notes = { current: null };
  const client = makeClient(values, io, notes);
  const taskId = await client.extend(source, input);
  return afterSubmit(client, 'veo-3-1-extend', taskId, mode ?? 'fast', values, io, notes);
}

async function status(args: string[], io: CreatorIo): Promise<number> {
  const { values, positionals } = parse(args, { ...COMMON, ...WAITING, model: { type: 'string' } });
  checkWaitFlags(values);
  const taskId = positionals[0];
  if (!taskId || positionals.length > 1) throw new CliError('status takes one TASK_ID');
  const given = oneOf(values.model, '--model', ['veo-3-1', 'veo-3-1-extend'] as const);
  const notes: Notes = { current: null };
  const client = makeClient(values, io, notes);
  let model: Model = given ?? 'veo-3-1';
  let data: TaskStatus;
  try {
    data = await client.status(model, taskId);
  } catch (err) {
    // A task is found only under its own model's route; without --model, try the other one.
    if (given || !(err instanceof LongshotApiError) || err.status !== 404) throw err;
    model = 'veo-3-1-extend';
    try {
      data = await client.status(model, taskId);
    } catch (err2) {
      if (err2 instanceof LongshotApiError && err2.status === 404) {
        throw new LongshotApiError(404, `no task ${taskId} under veo-3-1 or veo-3-1-extend for this key`, {
          ...(err2.requestId ? { requestId: err2.requestId } : {}),
        });
      }
      throw err2;
    }
  }
  if (values.wait || values.out) {
    if (data.state === 'failed') throw new TaskFailedError(data);
    if (data.state === 'success') return finish(client, model, data, values, io);
    return waitAndFinish(client, model, taskId, 'fast', values, io, notes);
  }
  if (values.json) {
    write(io.stdout, `${JSON.stringify({ model, ...data })}\n`);
    return EXIT.OK;
  }
  printStatus(io.stdout, model, data);
  return EXIT.OK;
}

async function balance(args: string[], io: CreatorIo): Promise<number> {
  const { values, positionals } = parse(args, COMMON);
  if (positionals.length) throw new CliError('balance takes no arguments');
  const usd = await makeClient(values, io).balance();
  if (values.json) write(io.stdout, `${JSON.stringify({ balance: usd, currency: 'USD' })}\n`);
  else write(io.stdout, `${formatUsd(usd)}\n`);
  return EXIT.OK;
}

/** Without --wait: the task id alone (so `ID=$(longshot generate …)` works). With it: wait, then the result. */
async function afterSubmit(client: LongshotClient, model: Model, taskId: string, mode: Mode, values: Values, io: CreatorIo, notes: Notes): Promise<number> {
  if (!values.wait && !values.out) {
    if (values.json) write(io.stdout, `${JSON.stringify({ taskId, model, state: 'pending' })}\n`);
    else {
      write(io.stdout, `${taskId}\n`);
      if (io.stdout.isTTY) write(io.stderr, `submitted; follow it with: longshot status ${taskId} --wait\n`);
    }
    return EXIT.OK;
  }
  if (!values.json && !io.stdout.isTTY) write(io.stdout, `submitted ${model} task ${taskId}\n`);
  return waitAndFinish(client, model, taskId, mode, values, io, notes);
}

async function waitAndFinish(client: LongshotClient, model: Model, taskId: string, mode: Mode, values: Values, io: CreatorIo, notes: Notes): Promise<number> {
  const json = values.json === true;
  const tty = !json && io.stdout.isTTY === true;
  const color = tty && !io.env.NO_COLOR;
  const progress: Progress | null = json ? null : createProgress(io.stdout, { label: `${model} ${taskId}`, tty, color, notes: io.stderr });
  notes.current = (text) => (progress ? progress.note(text) : write(io.stderr, `${text}\n`));
  const local = isLoopback(client.baseUrl);
  const controller = new AbortController();
  const removeInterrupt = io.onInterrupt(() => controller.abort(Object.assign(new Error('interrupted'), { name: 'AbortError' })));
  try {
    const data = await client.wait(model, taskId, {
      signal: controller.signal,
      mode,
      firstPollMs: seconds(values['first-poll'], '--first-poll') ?? (local ? 500 : undefined),
      intervalMs: seconds(values['poll-interval'], '--poll-interval') ?? (local ? 1000 : undefined),
      timeoutMs: seconds(values.timeout, '--timeout') ?? 1_800_000,
      onProgress: (s) => progress?.update(s.state, s),
    });
    progress?.stop();
    if (tty) write(io.stdout, `${paint(color, 'green', '✓')} ${model} ${taskId} succeeded in ${formatElapsed(data.costTime ?? 0)}\n`);
    return await finish(client, model, data, values, io, controller.signal);
  } catch (err) {
    progress?.stop();
    if (controller.signal.aborted) {
      write(io.stderr, `\nstopped waiting; task ${taskId} keeps running on the server. Resume: longshot status ${taskId} --wait\n`);
      return EXIT.INTERRUPTED;
    }
    throw err;
  } finally {
    removeInterrupt();
    notes.current = null;
  }
}

/** Prints (and with --out downloads) a successful task's result. */
async function finish(client: LongshotClient, model: Model, data: TaskStatus, values: Values, io: CreatorIo, signal?: AbortSignal): Promise<number> {
  const url = data.resultUrls[0];
  let file: { path: string; bytes: number } | undefined;
  if (typeof values.out === 'string') {
    if (!url) throw new CliError(`task ${data.taskId} has no result URL to download`);
    const got = await client.download(url, values.out, signal ? { signal } : {});
    file = { path: got.path, bytes: got.bytes };
  }
  if (values.json) {
    write(io.stdout, `${JSON.stringify({ model, ...data, ...(file ? { file } : {}) })}\n`);
    return EXIT.OK;
  }
  if (!io.stdout.isTTY) write(io.stdout, `result ${url ?? ''}\n`);
  else write(io.stdout, `result  ${url ?? ''}\n`);
  if (file) write(io.stdout, `saved ${file.path} (${formatBytes(file.bytes)})\n`);
  return EXIT.OK;
}

function printStatus(out: OutStream, model: Model, d: TaskStatus): void {
  const rows: [string, string][] = [
    ['task', d.taskId],
    ['model', model],
    ['state', d.state],
    ['created', iso(d.createTime)],
  ];
  if (d.completeTime !== undefined) rows.push(['completed', `${iso(d.completeTime)}${d.costTime !== undefined ? ` (took ${formatElapsed(d.costTime)})` : ''}`]);
  if (d.state === 'failed') rows.push(['fail code', d.failCode ?? ''], ['fail msg', d.failMsg ?? '']);
  for (const url of d.resultUrls) rows.push(['result', url]);
  if (typeof d.posterUrl === 'string') rows.push(['poster', d.posterUrl]);
  write(out, `${rows.map(([k, v]) => `${k.padEnd(10)} ${v}`).join('\n')}\n`);
}

/** Prints what went wrong (stderr; and with --json one object on stdout) and returns the exit code. */
function report(err: unknown, io: CreatorIo, json: boolean): number {
  const { kind, code } = classify(err);
  let line: string;
  const error: Record<string, unknown> = { kind, message: err instanceof Error ? err.message : String(err) };
  if (err instanceof TaskFailedError) {
    line = `task ${err.taskId} failed: ${err.failCode}${err.failMsg ? ` — ${err.failMsg}` : ''}`;
    Object.assign(error, { taskId: err.taskId, failCode: err.failCode, failMsg: err.failMsg });
  } else if (err instanceof WaitTimeoutError) {
    line = `${err.message}; it keeps running: longshot status ${err.taskId} --wait`;
    Object.assign(error, { taskId: err.taskId, state: err.lastStatus?.state ?? null });
  } else if (err instanceof LongshotApiError) {
    const extra = [
      `HTTP ${err.status}`,
      err.failCode,
      err.retryAfter !== undefined ? `retry after ${err.retryAfter} s` : undefined,
      err.requestId ? `request id ${err.requestId}` : undefined,
    ];
    line = `${err.message} (${extra.filter(Boolean).join(', ')})`;
    Object.assign(error, { status: err.status, failCode: err.failCode, field: err.field, retryAfter: err.retryAfter, requestId: err.requestId });
  } else if (kind === 'unexpected') {
    line = err instanceof Error ? (err.stack ?? err.message) : String(err);
  } else {
    line = error.message as string;
  }
  write(io.stderr, `longshot: ${line}\n`);
  if (json) {
    const payload = err instanceof TaskFailedError ? { ...err.task, error, exitCode: code } : { error, exitCode: code };
    write(io.stdout, `${JSON.stringify(payload)}\n`);
  }
  return code;
}

/** Where retry notices go: the progress display while one is shown, else stderr. */
interface Notes {
  current: ((text: string) => void) | null;
}

function makeClient(values: Values, io: CreatorIo, notes: Notes = { current: null }): LongshotClient {
  const baseUrl = (values['base-url'] as string | undefined) ?? (io.env.LONGSHOT_BASE_URL?.trim() || DEFAULT_BASE_URL);
  try {
    const u = new URL(baseUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    throw new CliError(`--base-url ${baseUrl} is not an http(s) URL such as ${DEFAULT_BASE_URL}`);
  }
  const apiKey = (values['api-key'] as string | undefined) ?? io.env.LONGSHOT_API_KEY?.trim();
  if (!apiKey) throw new LongshotApiError(401, 'no API key: set LONGSHOT_API_KEY or pass --api-key (create one with: longshot keys create --account NAME)');
  return new LongshotClient({
    baseUrl,
    apiKey,
    onRetry: (r) => {
      const why = r.status ? `HTTP ${r.status}` : (r.error?.message ?? 'network error');
      const text = `${why}; retry ${r.attempt} in ${(r.delayMs / 1000).toFixed(1)} s`;
      if (notes.current) notes.current(text);
      else if (!values.json) write(io.stderr, `${text}\n`);
    },
  });
}

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: values as Values, positionals };
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

function addCommon(input: { seed?: number; watermark?: string }, values: Values): void {
  if (values.seed !== undefined) {
    const s = values.seed as string;
    if (!/^\d{1,10}$/.test(s) || Number(s) > 4_294_967_295) throw new CliError(`--seed ${s} must be a whole number from 0 to 4294967295`);
    input.seed = Number(s);
  }
  if (values.watermark !== undefined) input.watermark = values.watermark as string;
}

function oneOf<T extends string>(value: unknown, flag: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly unknown[]).includes(value)) throw new CliError(`${flag} must be one of ${allowed.join(', ')}`);
  return value as T;
}

/** Bad waiting flags are refused before anything is submitted (and charged). */
function checkWaitFlags(values: Values): void {
  seconds(values.timeout, '--timeout');
  seconds(values['first-poll'], '--first-poll');
  seconds(values['poll-interval'], '--poll-interval');
}

function seconds(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n) || n < 0) throw new CliError(`${flag} takes a number of seconds`);
  return Math.round(n * 1000);
}

export function isLoopback(baseUrl: string): boolean {
  const host = new URL(baseUrl).hostname;
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\./.test(host);
}

function write(out: OutStream, text: string): void {
  out.write(text);
}

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms));

function formatUsd(usd: number): string {
  const cents = Math.round(usd * 100) / 100;
  return cents === usd ? `$${usd.toFixed(2)}` : `$${usd}`;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

import { resolve } from 'node:path';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type * as z from 'zod';
import {
  type GenerateInput,
  LongshotApiError,
  type LongshotClient,
  type Model,
  type Provider,
  TaskFailedError,
  type TaskListQuery,
  type TaskStatus,
  WaitTimeoutError,
} from '../client/index.js';
import { MODELS } from '../domain/models.js';
import { errorResult, ok, ToolError, toolError } from './tool-result.js';
import {
  argumentNames,
  downloadArgs,
  EXTEND_ARGS,
  GENERATE_ARGS,
  httpDownloadArgs,
  jsonSchemaOf,
  lineageArgs,
  listArgs,
  noArgs,
  taskArgs,
  waitArgs,
} from './tool-schemas.js';

/** What one MCP connection's tools work with. */
export interface ToolContext {
  client: LongshotClient;
  /** stdio: download_video saves a file; http: it answers a link (the server's disk is not the caller's). */
  transport: 'stdio' | 'http';
  /** The model of each task submitted through this connection, so later calls need not guess it. */
  models: Map<string, Model>;
  /** Whether wait_for_task may long-poll (statusTask `wait=`): the server is a Longshot. */
  longPolls: () => Promise<boolean>;
}

export interface CallExtra {
  signal: AbortSignal;
  /** Set when the request carries a progressToken: sends `notifications/progress`. */
  progress?: (progress: number, total: number | undefined, message: string) => Promise<void>;
}

const DEFAULT_WAIT_SECONDS = 240;

type Handler = (ctx: ToolContext, args: Record<string, unknown>, extra: CallExtra) => Promise<CallToolResult>;
interface ToolDef {
  tool: Tool;
  /** zod checks the tool's own arguments; the submit tools' arguments are checked by the API. */
  check?: z.ZodType;
  run: Handler;
}

const readOnly = { readOnlyHint: true, openWorldHint: true } as const;

function define(name: string, title: string, description: string, schema: z.ZodType | Record<string, unknown>, run: Handler, annotations = {}): ToolDef {
  const isZod = typeof (schema as { safeParse?: unknown }).safeParse === 'function';
  const inputSchema = (isZod ? jsonSchemaOf(schema as z.ZodType) : schema) as Tool['inputSchema'];
  const def: ToolDef = { tool: { name, title, description, inputSchema, annotations: { title, ...annotations } }, run };
  if (isZod) def.check = schema as z.ZodType;
  return def;
}

/** The tools of one transport; the same names and arguments on both but for download_video's `path`. */
export function toolsFor(transport: 'stdio' | 'http'): ToolDef[] {
  return [
    define(
      'generate_video',
      'Generate a video (veo-3-1)',
      'Submit a Veo 3.1 generation: an 8-second MP4 from a text prompt, optionally from first/last frames or reference images (`generationType` and `image_urls`). Returns the taskId at once; the video takes seconds to minutes. Then call wait_for_task with the taskId, then download_video. Costs the price of the mode (see the models resource); `fast` is cheaper than `quality` (the default).',
      GENERATE_ARGS,
      async (ctx, args, extra) => {
        const { provider, ...input } = args;
        const taskId = await ctx.client.generate(input as unknown as GenerateInput, { ...providerOf(provider), signal: extra.signal });
        ctx.models.set(taskId, 'veo-3-1');
        return ok({ taskId, model: 'veo-3-1', state: 'pending', next: 'call wait_for_task with this taskId' });
      },
      { openWorldHint: true },
    ),
    define(
      'extend_video',
      'Extend a video (veo-3-1-extend)',
      'Continue a finished (state success) video by 7 seconds: the new task’s video is the whole source followed by the continuation described by `prompt`. `taskId` is the source task (of generate_video or an earlier extend_video). Returns the new taskId; then call wait_for_task and download_video on it. Default mode `fast`.',
      EXTEND_ARGS,
      async (ctx, args, extra) => {
        const { provider, taskId, ...input } = args;
        if (typeof taskId !== 'string') throw new ToolError('argument "taskId" is required: the source task id', { argument: 'taskId' });
        const newId = await ctx.client.extend(taskId, input as { prompt: string }, { ...providerOf(provider), signal: extra.signal });
        ctx.models.set(newId, 'veo-3-1-extend');
        return ok({ taskId: newId, model: 'veo-3-1-extend', source: taskId, state: 'pending', next: 'call wait_for_task with this taskId' });
      },
      { openWorldHint: true },
    ),
    define(
      'get_task',
      'Get a task',
      'One status read of a task: state (pending, processing, success, failed), progress 0–100, queue position and estimated seconds left where the server knows them, the video URL on success, failCode and failMsg on failure. Does not wait: use wait_for_task for that.',
      taskArgs,
      async (ctx, args, extra) => {
        const { model, status } = await findTask(ctx, args.taskId as string, args.model as Model | undefined, extra.signal);
        return ok(view(model, status));
      },
      readOnly,
    ),
    define(
      'wait_for_task',
      'Wait for a task',
      `Wait until a task is finished (success or failed), at most timeoutSeconds (default ${DEFAULT_WAIT_SECONDS}). Sends progress notifications while it waits when the call asks for them. On success returns the status with videoUrl; then call download_video. A failed task is a tool error with its failCode. When the time is up first it returns the current state with timedOut: true; the task keeps running, so call wait_for_task again.`,
      waitArgs,
      async (ctx, args, extra) => waitFor(ctx, args, extra),
      readOnly,
    ),
    transport === 'stdio'
      ? define(
          'download_video',
          'Download a video',
          'Save a finished task’s MP4 to a file path on this machine (the file appears only when complete). The task must be in state success: call wait_for_task first.',
          downloadArgs,
          async (ctx, args, extra) => {
            const { model, url } = await resultUrl(ctx, args, extra.signal);
            const saved = await ctx.client.download(url, resolve(args.path as string), { signal: extra.signal });
            return ok({ taskId: args.taskId, model, path: saved.path, bytes: saved.bytes, contentType: saved.contentType });
          },
          { openWorldHint: true, destructiveHint: false },
        )
      : define(
          'download_video',
          'Get a video link',
          'A finished task’s MP4 as a link (a signed URL valid for 24 hours, no key needed): this server cannot write files on your machine. The task must be in state success: call wait_for_task first.',
          httpDownloadArgs,
          async (ctx, args, extra) => {
            const { model, url } = await resultUrl(ctx, args, extra.signal);
            return {
              content: [
                {
                  type: 'resource_link',
                  uri: url,
                  name: `${args.taskId as string}.mp4`,
                  mimeType: 'video/mp4',
                  description: `The video of ${model} task ${args.taskId as string}`,
                },
                { type: 'text', text: JSON.stringify({ taskId: args.taskId, model, videoUrl: url }, null, 2) },
              ],
            };
          },
          readOnly,
        ),
    define(
      'get_balance',
      'Get the balance',
      'The available balance of the API key in USD: what new tasks can still be paid from (a submit holds its price until the task ends; a failed task costs nothing).',
      noArgs,
      async (ctx, _args, extra) => ok({ balance: await ctx.client.balance({ signal: extra.signal }), currency: 'USD' }),
      readOnly,
    ),
    define(
      'list_tasks',
      'List tasks',
      'This key’s tasks, newest first, one page at a time (each with state, model and video URL on success); pass nextCursor back as cursor for the next page. Longshot has this; a server without a task list answers a tool error saying so.',
      listArgs,
      async (ctx, args, extra) => {
        try {
          const page = await ctx.client.listTasks(args as TaskListQuery, { signal: extra.signal });
          return ok({ tasks: page.tasks.map((t) => view(t.model, t)), nextCursor: page.nextCursor });
        } catch (err) {
          if (isMissingRoute(err)) return toolError('this server has no task list (GET /api/v1/tasks answered 404)', { status: 404 });
          throw err;
        }
      },
      readOnly,
    ),
    define(
      'get_lineage',
      'Get a lineage',
      'The extension tree a task belongs to: its root generation and every extension of it, branches included, as nodes with parentTaskId (parents first), each with state, prompt, duration and video URL. Longshot has this; a server without lineage answers a tool error saying so.',
      lineageArgs,
      async (ctx, args, extra) => {
        try {
          return ok(await ctx.client.lineage(args.taskId as string, { signal: extra.signal }));
        } catch (err) {
          if (isMissingRoute(err)) return toolError('this server has no lineage (GET /api/v1/tasks/{taskId}/lineage answered 404)', { status: 404 });
          throw err;
        }
      },
      readOnly,
    ),
    define(
      'list_models',
      'List models',
      'The models this server serves (veo-3-1 and veo-3-1-extend) with their modes and prices in USD, generation types, limits (prompt length, image counts) and the JSON Schema of their input.',
      noArgs,
      async (ctx, _args, extra) => {
        try {
          return ok({ models: await ctx.client.models({ signal: extra.signal }) });
        } catch (err) {
          if (isMissingRoute(err)) return toolError('this server has no model catalogue (GET /api/v1/models answered 404)', { status: 404 });
          throw err;
        }
      },
      readOnly,
    ),
  ];
}

/**
 * Whether the server long-polls: one that serves the model catalogue is a Longshot, which does
 * (APIXO would ignore `wait=` and answer at once, so polling it so would hammer it). Asked once;
 * any failure means no, and waits poll with APIXO's advice.
 */
export function longPollsIfLongshot(client: LongshotClient): () => Promise<boolean> {
  let known: Promise<boolean> | undefined;
  return () => {
    known ??= client.models().then(
      () => true,
      () => false,
    );
    return known;
  };
}

/** Runs one tool call; whatever goes wrong comes back as a tool error, never as a thrown error. */
export async function callTool(tools: ToolDef[], ctx: ToolContext, name: string, rawArgs: unknown, extra: CallExtra): Promise<CallToolResult> {
  const def = tools.find((t) => t.tool.name === name);
  if (!def) return toolError(`no tool named ${name}; the tools are ${tools.map((t) => t.tool.name).join(', ')}`);
  const args = (rawArgs ?? {}) as Record<string, unknown>;
  if (typeof args !== 'object' || Array.isArray(args)) return toolError('the arguments must be an object');
  try {
    if (def.check) {
      const parsed = def.check.safeParse(args);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const argument = issue.code === 'unrecognized_keys' ? issue.keys[0] : issue.path.join('.');
        const missing = issue.code === 'invalid_type' && issue.path.length === 1 && args[String(issue.path[0])] === undefined;
        const why = issue.code === 'unrecognized_keys' ? `is not one ${name} takes` : missing ? 'is required' : issue.message;
        return toolError(`argument "${argument}" ${why}`, { argument });
      }
    } else {
      const known = argumentNames(def.tool.inputSchema as Record<string, unknown>);
      const unknown = Object.keys(args).find((k) => !known.has(k));
      if (unknown !== undefined) return toolError(`argument "${unknown}" is not one ${name} takes; it takes ${[...known].join(', ')}`, { argument: unknown });
    }
    return await def.run(ctx, args, extra);
  } catch (err) {
    return errorResult(err);
  }
}

function providerOf(provider: unknown): { provider?: Provider } {
  return provider === undefined ? {} : { provider: provider as Provider };
}

/** A route this server does not have (not a task it does not know: that 404 names `taskId`). */
function isMissingRoute(err: unknown): boolean {
  return err instanceof LongshotApiError && err.status === 404 && err.field === undefined;
}

/** The status under the task's model: given, remembered, or tried in turn (the API answers a task only under its own model). */
export async function findTask(ctx: ToolContext, taskId: string, model: Model | undefined, signal: AbortSignal): Promise<{ model: Model; status: TaskStatus }> {
  const known = model ?? ctx.models.get(taskId);
  for (const m of known ? [known] : MODELS) {
    try {
      const status = await ctx.client.status(m, taskId, { signal });
      ctx.models.set(taskId, m);
      return { model: m, status };
    } catch (err) {
      if (!(err instanceof LongshotApiError && err.status === 404)) throw err;
    }
  }
  const under = known ? `under ${known}` : 'under veo-3-1 or veo-3-1-extend';
  throw new ToolError(`no task ${taskId} ${under} for this API key`, { status: 404, argument: 'taskId', field: 'taskId' });
}

/** The status as an agent reads it: the API's fields, the model, and the video URL by name. */
function view(model: Model, status: TaskStatus): Record<string, unknown> {
  const { resultUrls, ...rest } = status;
  const out: Record<string, unknown> = { model, ...rest };
  if (resultUrls[0] !== undefined) out.videoUrl = resultUrls[0];
  return out;
}

async function waitFor(ctx: ToolContext, args: Record<string, unknown>, extra: CallExtra): Promise<CallToolResult> {
  const taskId = args.taskId as string;
  const { model, status: first } = await findTask(ctx, taskId, args.model as Model | undefined, extra.signal);
  const timeoutMs = ((args.timeoutSeconds as number | undefined) ?? DEFAULT_WAIT_SECONDS) * 1000;
  // MCP progress must grow with every notification: the server's 0–100 where it has one, else the polls made.
  let last = -1;
  let sawPercent = false;
  // Sent in order, and all before the answer: a client drops progress that arrives after it.
  let sent: Promise<void> = Promise.resolve();
  try {
    const onProgress = (s: TaskStatus, p: { polls: number }): void => {
      if (!extra.progress) return;
      // A finished task is done whatever its row says; before, polls stand in where the server tells no progress.
      const known = typeof s.progress === 'number' || (s.state === 'success' && sawPercent);
      const value = s.state === 'success' && known ? 100 : known ? (s.progress as number) : p.polls;
      sawPercent ||= typeof s.progress === 'number';
      if (value <= last) return;
      last = value;
      const message = `${s.state}${known ? ` ${value}%` : ''}${typeof s.etaSeconds === 'number' ? `, about ${s.etaSeconds} s left` : ''}`;
      const send = extra.progress;
      sent = sent.then(() => send(value, known ? 100 : undefined, message)).catch(() => {});
    };
    // The state now, at once: the first poll of APIXO's advice may be a minute away.
    onProgress(first, { polls: 0 });
    const options = { signal: extra.signal, timeoutMs, onProgress };
    // Held at most 5 s when the caller follows progress (a hold ends only on a change of state), so a notification comes at least that often.
    const hold = extra.progress ? 5 : LONG_POLL_SECONDS;
    const status = (await ctx.longPolls()) ? await longPoll(ctx.client, model, taskId, { ...options, hold }) : await ctx.client.wait(model, taskId, options);
    await sent;
    return ok({ ...view(model, status), next: 'call download_video with this taskId' });
  } catch (err) {
    if (err instanceof WaitTimeoutError) {
      const current = err.lastStatus ? view(model, err.lastStatus) : { taskId, model };
      return ok({ ...current, timedOut: true, next: 'the task is still running: call wait_for_task again' });
    }
    throw err;
  }
}

async function resultUrl(ctx: ToolContext, args: Record<string, unknown>, signal: AbortSignal): Promise<{ model: Model; url: string }> {
  const { model, status } = await findTask(ctx, args.taskId as string, args.model as Model | undefined, signal);
  const url = status.resultUrls[0];
  if (status.state !== 'success' || url === undefined) {
    const why = status.state === 'failed' ? `failed with ${status.failCode ?? 'an unknown fail code'}` : `is ${status.state}; call wait_for_task first`;
    const detail: Record<string, unknown> = { taskId: args.taskId, state: status.state };
    if (status.failCode !== undefined) detail.failCode = status.failCode;
    throw new ToolError(`task ${args.taskId as string} has no video: it ${status.state === 'success' ? 'has no result URL (deleted?)' : why}`, detail);
  }
  return { model, url };
}

/** The longest a single long-poll is held: well under the client's request timeout and proxies' idle limits. */
const LONG_POLL_SECONDS = 30;

/**
 * wait() by long-poll (statusTask `wait=`, a Longshot addition): each read is held until the task
 * changes, so the end is seen at once instead of at the next poll of APIXO's advice.
 */
async function longPoll(
  client: LongshotClient,
  model: Model,
  taskId: string,
  opts: { signal: AbortSignal; timeoutMs: number; hold: number; onProgress: (s: TaskStatus, p: { polls: number }) => void },
): Promise<TaskStatus> {
  const deadline = Date.now() + opts.timeoutMs;
  for (let polls = 1; ; polls++) {
    const remaining = Math.max(0, deadline - Date.now());
    const status = await client.status(model, taskId, { signal: opts.signal, waitSeconds: Math.min(opts.hold, Math.ceil(remaining / 1000)) });
    opts.onProgress(status, { polls });
    if (status.state === 'success') return status;
    if (status.state === 'failed') throw new TaskFailedError(status);
    if (Date.now() >= deadline) throw new WaitTimeoutError(taskId, status, opts.timeoutMs);
  }
}

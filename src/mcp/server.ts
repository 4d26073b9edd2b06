import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type ReadResourceResult,
} from '@modelcontextprotocol/sdk/types.js';
import { LongshotApiError } from '../client/index.js';
import { packageVersion } from '../http/package-version.js';
import { type CallExtra, callTool, findTask, type ToolContext, toolsFor } from './tools.js';

/**
 * One MCP server (docs/mcp.md): the tools of tools.ts and the resources below, over whatever
 * transport connects it — stdio for `longshot mcp`, Streamable HTTP at /mcp. Everything goes
 * through the TypeScript client, so it serves Longshot and APIXO alike.
 */

const MODELS_URI = 'longshot://models';
const TASK_FILE = /^longshot:\/\/tasks\/([0-9a-f]{32})\/(video|poster)$/;

const INSTRUCTIONS =
  'Generate Veo 3.1 videos: generate_video (or extend_video on a finished task) returns a taskId at once; wait_for_task waits for it (bounded by timeoutSeconds; call again if it times out); download_video saves or links the MP4. Prices per mode are in list_models. Errors name the argument at fault and the fail code.';

export interface McpContext extends ToolContext {
  /** Fetches a signed result URL (no key): the global fetch, or the app itself for /mcp. */
  fetchFile: typeof globalThis.fetch;
}

export function createMcpServer(ctx: McpContext): Server {
  const server = new Server(
    { name: 'longshot', title: 'Longshot (Veo 3.1)', version: packageVersion() },
    { capabilities: { tools: {}, resources: {} }, instructions: INSTRUCTIONS },
  );
  const tools = toolsFor(ctx.transport);

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: tools.map((t) => t.tool) }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const token = request.params._meta?.progressToken;
    const call: CallExtra = { signal: extra.signal };
    if (token !== undefined) {
      call.progress = (progress, total, message) =>
        extra.sendNotification({
          method: 'notifications/progress',
          params: { progressToken: token, progress, message, ...(total === undefined ? {} : { total }) },
        });
    }
    return callTool(tools, ctx, request.params.name, request.params.arguments, call);
  });

  server.setRequestHandler(ListResourcesRequestSchema, async () => ({
    resources: [
      {
        uri: MODELS_URI,
        name: 'models',
        title: 'Model catalogue',
        description: 'The models this server serves: modes, prices in USD, generation types, limits and the JSON Schema of their input.',
        mimeType: 'application/json',
      },
    ],
  }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
    resourceTemplates: [
      { uriTemplate: 'longshot://tasks/{taskId}/video', name: 'task-video', title: 'A finished task’s video', mimeType: 'video/mp4' },
      { uriTemplate: 'longshot://tasks/{taskId}/poster', name: 'task-poster', title: 'A finished task’s poster frame', mimeType: 'image/jpeg' },
    ],
  }));
  server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => readResource(ctx, request.params.uri, extra.signal));
  return server;
}

async function readResource(ctx: McpContext, uri: string, signal: AbortSignal): Promise<ReadResourceResult> {
  try {
    if (uri === MODELS_URI) {
      const models = await ctx.client.models({ signal });
      return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify({ models }, null, 2) }] };
    }
    const m = TASK_FILE.exec(uri);
    if (!m) throw new McpError(ErrorCode.InvalidParams, `no resource ${uri}: read ${MODELS_URI} or longshot://tasks/{taskId}/video`);
    const [, taskId, kind] = m as unknown as [string, string, 'video' | 'poster'];
    const { status } = await findTask(ctx, taskId, undefined, signal);
    const url = kind === 'video' ? status.resultUrls[0] : (status.posterUrl as string | undefined);
    if (status.state !== 'success' || !url) throw new McpError(ErrorCode.InvalidParams, `task ${taskId} is ${status.state}: it has no ${kind} yet`);
    const res = await ctx.fetchFile(url, { signal });
    if (!res.ok) throw new McpError(ErrorCode.InternalError, `the ${kind} of task ${taskId} answered HTTP ${res.status}`);
    const blob = Buffer.from(await res.arrayBuffer()).toString('base64');
    return { contents: [{ uri, mimeType: kind === 'video' ? 'video/mp4' : 'image/jpeg', blob }] };
  } catch (err) {
    if (err instanceof McpError) throw err;
    const status = err instanceof LongshotApiError ? ` (HTTP ${err.status})` : '';
    throw new McpError(ErrorCode.InvalidParams, `reading ${uri} failed${status}: ${(err as Error).message}`);
  }
}

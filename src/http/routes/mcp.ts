import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { FastifyInstance, FastifyPluginAsync, FastifySchema } from 'fastify';
import { LongshotClient } from '../../client/index.js';
import { createMcpServer } from '../../mcp/server.js';
import { ApiError } from '../api-error.js';
import type { Authenticator } from '../auth.js';
import { mcpMethodSchema, mcpSchema } from '../schemas/mcp.js';

/**
 * POST /mcp: the MCP tools of `longshot mcp` over Streamable HTTP (docs/mcp.md), authenticated by
 * the caller's API key as a bearer token. Stateless: each request gets its own server, whose
 * client calls this app's own API in-process (`inject`) with the caller's key, so every rule of
 * the API — tenancy, permissions, rate limits, budgets — applies to each tool call unchanged.
 */
export const mcpRoute =
  (auth: Authenticator): FastifyPluginAsync =>
  async (app) => {
    const open = new Set<StreamableHTTPServerTransport>();
    // A graceful stop ends the answers still streaming (a wait_for_task) instead of waiting for them.
    app.addHook('preClose', (done) => {
      for (const transport of open) void transport.close();
      done();
    });
    const apiFetch = injectFetch(app);

    // The body schema documents; the MCP transport checks the messages and answers in JSON-RPC.
    const documentOnly = { schema: mcpSchema as FastifySchema, validatorCompiler: () => () => true };
    app.post('/mcp', documentOnly, async (req, reply) => {
      const caller = await auth.authenticate(req.headers.authorization);
      if (!caller) throw new ApiError(401, { error: 'Authorization must be "Bearer <API key>" with a valid, unrevoked key' });
      const apiKey = req.headers.authorization!.replace(/^Bearer\s+/i, '').trim();
      const client = new LongshotClient({ baseUrl: 'http://longshot.internal/api/v1', apiKey, fetch: apiFetch, pollFirstDelayMs: 500, pollIntervalMs: 1000 });
      // Polled in-process every second: a long-poll through inject() would hold a request that
      // the key watch and the shutdown of held answers (http/wait.ts) know nothing of.
      const server = createMcpServer({ client, transport: 'http', models: new Map(), longPolls: async () => false, fetchFile: apiFetch });
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      open.add(transport);
      reply.raw.on('close', () => {
        open.delete(transport);
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      reply.hijack();
      await transport.handleRequest(req.raw, reply.raw, req.body);
    });
    // Stateless: no stream to resume (GET) and no session to end (DELETE); the spec's answer is 405.
    const notAllowed = async (): Promise<never> => {
      throw new ApiError(405, { error: 'this MCP endpoint is stateless: send JSON-RPC requests with POST' });
    };
    app.get('/mcp', { schema: mcpMethodSchema('mcpGet') as FastifySchema }, async (_req, reply) => {
      reply.header('allow', 'POST');
      return notAllowed();
    });
    app.delete('/mcp', { schema: mcpMethodSchema('mcpDelete') as FastifySchema }, async (_req, reply) => {
      reply.header('allow', 'POST');
      return notAllowed();
    });
  };

/** A fetch that answers from this app itself: a tool's API call never leaves the process. */
function injectFetch(app: FastifyInstance): typeof globalThis.fetch {
  return async (input, init) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const res = await app.inject({
      method: (init?.method ?? 'GET') as 'GET',
      url: url.pathname + url.search,
      headers,
      ...(typeof init?.body === 'string' ? { payload: init.body } : {}),
    });
    const out = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [String(value)]) out.append(name, v);
    }
    const empty = res.statusCode === 204 || res.statusCode === 304 || init?.method === 'HEAD';
    return new Response(empty ? null : new Uint8Array(res.rawPayload), { status: res.statusCode, headers: out });
  };
}

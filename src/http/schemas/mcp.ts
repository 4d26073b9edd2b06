import { Type } from 'typebox';
import { ADDITION, errorResponses } from './envelope.js';

/** Schemas of /mcp, the MCP tools over Streamable HTTP (docs/mcp.md). */

const JsonRpc = Type.Object(
  { jsonrpc: Type.Literal('2.0'), method: Type.Optional(Type.String()), id: Type.Optional(Type.Union([Type.String(), Type.Integer()])) },
  { additionalProperties: true, description: 'A JSON-RPC 2.0 message (or a batch) of the Model Context Protocol.' },
);

export const mcpSchema = {
  operationId: 'mcp',
  tags: ['beyond-apixo'],
  summary: 'MCP over Streamable HTTP',
  description:
    "The tools of `longshot mcp` (generate_video, wait_for_task, download_video, …) for an agent's MCP client, stateless: send `Accept: application/json, text/event-stream`. Every tool call is an API call with the caller's key, counted and refused as the API would (docs/mcp.md). A message the protocol refuses (not JSON-RPC, a wrong `Accept` or `Content-Type`) is answered with a JSON-RPC error, as MCP clients expect, not the envelope.",
  ...ADDITION,
  body: Type.Union([JsonRpc, Type.Array(JsonRpc)]),
  response: {
    200: {
      description: 'The JSON-RPC answer, as an SSE stream (progress notifications, then the result) or as JSON.',
      content: { 'text/event-stream': { schema: Type.String() }, 'application/json': { schema: JsonRpc } },
    },
    202: { description: 'A notification or response was accepted.' },
    ...errorResponses({ 401: 'no API key, or one that is unknown or revoked; in the envelope, before any MCP message is read.' }),
  },
};

export const mcpMethodSchema = (operationId: string) => ({
  operationId,
  tags: ['beyond-apixo'],
  summary: `${operationId === 'mcpGet' ? 'GET' : 'DELETE'} /mcp: not offered`,
  description: 'The endpoint is stateless: no server-sent stream to open, no session to end. Answers 405 with `Allow: POST`.',
  ...ADDITION,
  response: { ...errorResponses({ 405: 'always: use POST.' }) },
});

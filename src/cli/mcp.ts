import { parseArgs } from 'node:util';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { DEFAULT_BASE_URL, LongshotClient } from '../client/index.js';
import { createMcpServer } from '../mcp/server.js';
import { longPollsIfLongshot } from '../mcp/tools.js';
import { CliError } from './cli-error.js';
import { isLoopback } from './creator.js';

export const MCP_HELP = `longshot mcp — an MCP server over stdio for agents (docs/mcp.md)

Usage: longshot mcp [--base-url URL] [--api-key KEY]

Speaks the Model Context Protocol on stdin/stdout: tools generate_video, extend_video, get_task,
wait_for_task, download_video, get_balance, list_tasks, get_lineage, list_models, and the model
catalogue and finished videos as resources. Works against any APIXO-compatible server.

  --base-url URL   LONGSHOT_BASE_URL; default ${DEFAULT_BASE_URL}
  --api-key KEY    LONGSHOT_API_KEY (prefer the variable: flags show in ps)

Messages go to stderr; stdout carries only the protocol.
`;

/** Runs until the client closes stdin. */
export async function runMcp(args: string[]): Promise<number> {
  let values: { 'base-url'?: string; 'api-key'?: string };
  try {
    ({ values } = parseArgs({ args, options: { 'base-url': { type: 'string' }, 'api-key': { type: 'string' } }, strict: true }));
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const baseUrl = values['base-url'] ?? (process.env.LONGSHOT_BASE_URL?.trim() || DEFAULT_BASE_URL);
  try {
    const u = new URL(baseUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    throw new CliError(`--base-url ${baseUrl} is not an http(s) URL such as ${DEFAULT_BASE_URL}`);
  }
  const apiKey = values['api-key'] ?? process.env.LONGSHOT_API_KEY?.trim();
  // Without a key the server still starts, so the agent's client shows why each call fails.
  if (!apiKey) process.stderr.write('longshot mcp: no API key (set LONGSHOT_API_KEY); every tool call will answer 401\n');
  // A local server renders in seconds and polling it costs nothing; elsewhere, APIXO's advice.
  const local = isLoopback(baseUrl);
  const client = new LongshotClient({
    baseUrl,
    ...(apiKey ? { apiKey } : {}),
    ...(local ? { pollFirstDelayMs: 500, pollIntervalMs: 1000 } : {}),
    onRetry: (r) => process.stderr.write(`longshot mcp: ${r.status ? `HTTP ${r.status}` : (r.error?.message ?? 'network error')}; retry ${r.attempt}\n`),
  });
  const server = createMcpServer({
    client,
    transport: 'stdio',
    models: new Map(),
    longPolls: longPollsIfLongshot(client),
    fetchFile: globalThis.fetch.bind(globalThis),
  });
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = resolve;
    process.stdin.once('end', resolve);
  });
  await server.connect(transport);
  process.stderr.write(`longshot mcp: serving ${client.baseUrl} over stdio\n`);
  await closed;
  await server.close();
  return 0;
}

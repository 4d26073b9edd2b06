import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probe } from './support/media.js';
import { startTestService, type TestService } from './support/service.js';

/**
 * The same tools over MCP's Streamable HTTP at /mcp of the running service, driven by the
 * official SDK's client with an API key as its bearer token.
 */
let t: TestService;
let dir: string;
const clients: Client[] = [];

async function connect(key: string): Promise<Client> {
  const c = new Client({ name: 'longshot-http-test', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(`${t.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
  clients.push(c);
  return c;
}

beforeAll(async () => {
  t = await startTestService();
  dir = await mkdtemp(join(tmpdir(), 'longshot-mcp-http-'));
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await t?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function call(c: Client, name: string, args: Record<string, unknown>, onprogress?: (p: Progress) => void): Promise<CallToolResult> {
  return (await c.callTool({ name, arguments: args }, undefined, { ...(onprogress ? { onprogress } : {}), timeout: 120_000 })) as CallToolResult;
}
const textOf = (r: CallToolResult) => (r.content.find((c) => c.type === 'text') as { text: string }).text;
const jsonOf = (r: CallToolResult) => {
  expect(r.isError, textOf(r)).not.toBe(true);
  return JSON.parse(textOf(r));
};

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

describe('/mcp authentication', () => {
  it.each([
    ['no key', undefined],
    ['an unknown key', 'Bearer lsk_nope'],
    ['a malformed header', 'Basic abc'],
  ])('answers 401 in the envelope for %s', async (_name, authorization) => {
    const res = await fetch(`${t.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify(initialize),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 401, message: 'Invalid or missing API key', data: { error: expect.stringContaining('Bearer') } });
  });

  it('answers GET and DELETE with 405: the endpoint is stateless', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(`${t.url}/mcp`, { method, headers: { authorization: `Bearer ${t.key}` } });
      expect(res.status, method).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
      expect(await res.json()).toMatchObject({ code: 405, message: 'Method not allowed' });
    }
  });
});

describe('/mcp tools', () => {
  let c: Client;
  let taskId: string;
  beforeAll(async () => {
    c = await connect(t.key);
  });

  it('lists the tools, download_video without a path', async () => {
    const { tools } = await c.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(
      expect.arrayContaining(['generate_video', 'extend_video', 'wait_for_task', 'download_video', 'get_balance']),
    );
    const download = tools.find((tool) => tool.name === 'download_video')!;
    expect(download.inputSchema.required).toEqual(['taskId']);
    expect(Object.keys(download.inputSchema.properties ?? {})).not.toContain('path');
  });

  it('generates and waits with progress notifications; download_video links the MP4', async () => {
    taskId = jsonOf(await call(c, 'generate_video', { prompt: 'a lighthouse at dusk', mode: 'fast' })).taskId;
    const progress: Progress[] = [];
    const done = jsonOf(await call(c, 'wait_for_task', { taskId }, (p) => progress.push(p)));
    expect(done).toMatchObject({ taskId, state: 'success', model: 'veo-3-1' });
    expect(progress.length).toBeGreaterThan(0);
    const link = await call(c, 'download_video', { taskId });
    expect(link.isError).not.toBe(true);
    const resource = link.content.find((part) => part.type === 'resource_link') as { uri: string; mimeType: string };
    expect(resource).toMatchObject({ mimeType: 'video/mp4', uri: expect.stringMatching(new RegExp(`^${t.url}/files/results/${taskId}\\.mp4\\?expires=`)) });
    // The link needs no key.
    const res = await fetch(resource.uri);
    expect(res.status).toBe(200);
    const path = join(dir, 'lighthouse.mp4');
    await writeFile(path, Buffer.from(await res.arrayBuffer()));
    expect(Math.abs((await probe(path)).durationSec - 8)).toBeLessThanOrEqual(0.1);
  });

  it('extends, and reports the balance the API reports', async () => {
    const ext = jsonOf(await call(c, 'extend_video', { taskId, prompt: 'the light sweeps over the sea' }));
    expect(jsonOf(await call(c, 'wait_for_task', { taskId: ext.taskId })).state).toBe('success');
    const { balance } = jsonOf(await call(c, 'get_balance', {}));
    expect(balance).toBe((await t.api('GET', '/api/v1/apikeys/current-balance')).body.data);
  });

  it('a bad input is a tool error naming the argument', async () => {
    const res = await call(c, 'generate_video', { prompt: 'x', aspect_ratio: '4:3' });
    expect(res.isError).toBe(true);
    expect(textOf(res)).toMatch(/argument "aspect_ratio" \(API field input\.aspect_ratio\)/);
  });

  it('another account’s task is not found, through every tool that names it', async () => {
    const other = await t.newAccount('mcp-other');
    const o = await connect(other.key);
    for (const [tool, args] of [
      ['get_task', { taskId }],
      ['wait_for_task', { taskId, timeoutSeconds: 1 }],
      ['download_video', { taskId }],
    ] as const) {
      const res = await call(o, tool, args);
      expect(res.isError, tool).toBe(true);
      expect(textOf(res), tool).toMatch(new RegExp(`no task ${taskId} under veo-3-1 or veo-3-1-extend for this API key`));
    }
    const ext = await call(o, 'extend_video', { taskId, prompt: 'steal it' });
    expect(textOf(ext)).toMatch(/fail code TASKID_ERROR/);
    const lineage = await call(o, 'get_lineage', { taskId });
    expect(lineage.isError).toBe(true);
    expect(textOf(lineage)).not.toMatch(/has no lineage/);
    // And its own balance, not the first account's.
    expect(jsonOf(await call(o, 'get_balance', {})).balance).toBe(10);
  });
});

describe('/mcp with no workers: tasks stay pending', () => {
  let idle: TestService;
  beforeAll(async () => {
    idle = await startTestService({}, { workers: false });
  });
  afterAll(() => idle?.close());

  it('wait_for_task answers timedOut at its bound, and download_video says to wait', async () => {
    const c = new Client({ name: 'longshot-http-test', version: '1.0.0' });
    await c.connect(new StreamableHTTPClientTransport(new URL(`${idle.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${idle.key}` } } }));
    clients.push(c);
    const { taskId } = jsonOf(await call(c, 'generate_video', { prompt: 'a slow tide', mode: 'fast' }));
    const waited = jsonOf(await call(c, 'wait_for_task', { taskId, timeoutSeconds: 1 }));
    expect(waited).toMatchObject({ taskId, state: 'pending', timedOut: true, next: expect.stringContaining('call wait_for_task again') });
    const early = await call(c, 'download_video', { taskId });
    expect(early.isError).toBe(true);
    expect(textOf(early)).toMatch(/has no video: it is pending; call wait_for_task first/);
  });
});

import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult, Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApixoOnlyProxy } from './support/apixo-only-proxy.js';
import { buildCli } from './support/built-cli.js';
import { probe } from './support/media.js';
import { startTestService, type TestService } from './support/service.js';

/**
 * `longshot mcp` as an agent's MCP client runs it: the compiled CLI in a child process, driven
 * by the official SDK's Client over stdio, against a real Longshot on loopback (the local engine
 * renders real videos with ffmpeg).
 */
let t: TestService;
let cli: string;
let client: Client;
let dir: string;
let stderr = '';

function connect(cli: string, env: Record<string, string>): Promise<Client> {
  const c = new Client({ name: 'longshot-test', version: '1.0.0' });
  const transport = new StdioClientTransport({ command: process.execPath, args: [cli, 'mcp'], env, stderr: 'pipe' });
  transport.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  return c.connect(transport).then(() => c);
}

const baseEnv = () => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' });

beforeAll(async () => {
  const [service, built] = await Promise.all([startTestService(), buildCli('longshot-mcp-test')]);
  t = service;
  cli = built;
  dir = await mkdtemp(join(tmpdir(), 'longshot-mcp-'));
  // A bare origin, as the server prints it: the client adds /api/v1.
  client = await connect(cli, { ...baseEnv(), LONGSHOT_BASE_URL: t.url, LONGSHOT_API_KEY: t.key });
}, 120_000);
afterAll(async () => {
  await client?.close();
  await t?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function call(name: string, args: Record<string, unknown>, onprogress?: (p: Progress) => void): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args }, undefined, { ...(onprogress ? { onprogress } : {}), timeout: 120_000 })) as CallToolResult;
}
const textOf = (r: CallToolResult) => (r.content[0] as { text: string }).text;
const jsonOf = (r: CallToolResult) => {
  expect(r.isError, textOf(r)).not.toBe(true);
  return JSON.parse(textOf(r));
};

describe('longshot mcp over stdio', () => {
  let sourceId: string;
  let sourceFile: string;

  it('lists its tools with input schemas and descriptions', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(
      ['download_video', 'extend_video', 'generate_video', 'get_balance', 'get_lineage', 'get_task', 'list_models', 'list_tasks', 'wait_for_task'].sort(),
    );
    for (const tool of tools) {
      expect(tool.inputSchema.type, tool.name).toBe('object');
      expect(tool.description?.length ?? 0, tool.name).toBeGreaterThan(60);
    }
    const generate = tools.find((tool) => tool.name === 'generate_video')!;
    // The submit schema's own fields and rules (http/schemas/submit.ts).
    expect(generate.inputSchema.required).toEqual(['prompt']);
    expect(Object.keys(generate.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(['prompt', 'mode', 'generationType', 'aspect_ratio', 'image_urls', 'watermark', 'seed', 'provider']),
    );
    expect((generate.inputSchema.properties as any).prompt.maxLength).toBe(10_000);
    const download = tools.find((tool) => tool.name === 'download_video')!;
    expect(download.inputSchema.required).toEqual(['taskId', 'path']);
  });

  it('generates, and waits with progress notifications until success', async () => {
    const submitted = jsonOf(await call('generate_video', { prompt: 'a calm ocean at sunset', mode: 'fast', seed: 7 }));
    expect(submitted).toMatchObject({ model: 'veo-3-1', state: 'pending' });
    expect(submitted.taskId).toMatch(/^[0-9a-f]{32}$/);
    sourceId = submitted.taskId;
    const progress: Progress[] = [];
    const done = jsonOf(await call('wait_for_task', { taskId: sourceId, timeoutSeconds: 120 }, (p) => progress.push(p)));
    expect(done).toMatchObject({ taskId: sourceId, model: 'veo-3-1', state: 'success' });
    expect(done.videoUrl).toMatch(new RegExp(`^${t.url}/files/results/${sourceId}\\.mp4\\?expires=`));
    expect(progress.length).toBeGreaterThan(0);
    // MCP progress grows with every notification: the task's percent (of 100) where the status has
    // one, else the polls made. (The SDK's client may drop one that arrives with the answer, so the
    // last, 100 %, is not asserted: the answer itself says success.)
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.progress, JSON.stringify(progress)).toBeGreaterThan(progress[i - 1]!.progress);
    for (const p of progress.filter((p) => p.total !== undefined)) expect(p.total === 100 && p.progress <= 100 && /%$/.test(p.message ?? '')).toBe(true);
    const status = jsonOf(await call('get_task', { taskId: sourceId }));
    expect(status).toMatchObject({ state: 'success', progress: 100, model: 'veo-3-1' });
  });

  it('downloads the MP4 to a path, which ffprobe reads as the 8 s video', async () => {
    sourceFile = join(dir, 'nested', 'ocean.mp4');
    const saved = jsonOf(await call('download_video', { taskId: sourceId, path: sourceFile }));
    expect(saved).toMatchObject({ taskId: sourceId, path: sourceFile, contentType: 'video/mp4' });
    expect(saved.bytes).toBe((await stat(sourceFile)).size);
    const info = await probe(sourceFile);
    expect(info.video.codec).toBe('h264');
    expect([info.video.width, info.video.height]).toEqual([1280, 720]);
    expect(Math.abs(info.durationSec - 8)).toBeLessThanOrEqual(0.1);
  });

  it('extends the video by 7 s, found without naming its model', async () => {
    const submitted = jsonOf(await call('extend_video', { taskId: sourceId, prompt: 'continue with a slow pan to the shore' }));
    expect(submitted).toMatchObject({ model: 'veo-3-1-extend', source: sourceId });
    expect(jsonOf(await call('wait_for_task', { taskId: submitted.taskId })).state).toBe('success');
    const path = join(dir, 'ocean-15s.mp4');
    jsonOf(await call('download_video', { taskId: submitted.taskId, path }));
    expect(Math.abs((await probe(path)).durationSec - 15)).toBeLessThanOrEqual(0.1);
    const lineage = jsonOf(await call('get_lineage', { taskId: submitted.taskId }));
    expect(lineage.rootTaskId).toBe(sourceId);
    expect(lineage.nodes.map((n: { taskId: string }) => n.taskId)).toEqual([sourceId, submitted.taskId]);
  });

  it('reports the balance, the task list and the models', async () => {
    const { balance } = jsonOf(await call('get_balance', {}));
    const api = await t.api('GET', '/api/v1/apikeys/current-balance');
    expect(balance).toBe(api.body.data);
    const page = jsonOf(await call('list_tasks', { limit: 1 }));
    expect(page.tasks).toHaveLength(1);
    expect(page.tasks[0].model).toBe('veo-3-1-extend');
    expect(typeof page.nextCursor).toBe('string');
    const older = jsonOf(await call('list_tasks', { limit: 1, cursor: page.nextCursor }));
    expect(older.tasks[0].taskId).toBe(sourceId);
    const { models } = jsonOf(await call('list_models', {}));
    expect(models.map((m: { model: string }) => m.model)).toEqual(['veo-3-1', 'veo-3-1-extend']);
  });

  it('serves the catalogue and a finished video as resources', async () => {
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toEqual(['longshot://models']);
    const catalogue = await client.readResource({ uri: 'longshot://models' });
    expect(JSON.parse((catalogue.contents[0] as { text: string }).text).models).toHaveLength(2);
    const video = await client.readResource({ uri: `longshot://tasks/${sourceId}/video` });
    expect(video.contents[0]).toMatchObject({ mimeType: 'video/mp4' });
    const bytes = Buffer.from((video.contents[0] as { blob: string }).blob, 'base64');
    expect(bytes.equals(await import('node:fs/promises').then((fs) => fs.readFile(sourceFile)))).toBe(true);
  });

  it.each([
    [
      'a mode the API refuses',
      'generate_video',
      { prompt: 'x', mode: 'turbo' },
      /argument "mode" \(API field input\.mode\)/,
      { status: 400, field: 'input.mode' },
    ],
    ['a missing prompt', 'generate_video', { mode: 'fast' }, /argument "prompt" \(API field input\.prompt\)/, { status: 400, field: 'input.prompt' }],
    ['a misspelt argument', 'generate_video', { prompt: 'x', aspect: '9:16' }, /argument "aspect" is not one generate_video takes/, { argument: 'aspect' }],
    ['a malformed task id', 'wait_for_task', { taskId: 'nope' }, /argument "taskId" must be a task id/, { argument: 'taskId' }],
    ['a missing task id', 'get_task', {}, /argument "taskId" is required/, { argument: 'taskId' }],
    ['a download without a path', 'download_video', { taskId: 'f'.repeat(32) }, /argument "path" is required/, { argument: 'path' }],
    [
      'a timeout over the bound',
      'wait_for_task',
      { taskId: 'f'.repeat(32), timeoutSeconds: 99_999 },
      /argument "timeoutSeconds" /,
      { argument: 'timeoutSeconds' },
    ],
    ['an unknown task', 'get_task', { taskId: 'f'.repeat(32) }, /no task f{32} under veo-3-1 or veo-3-1-extend/, { status: 404, field: 'taskId' }],
    ['an extend of an unknown source', 'extend_video', { taskId: 'f'.repeat(32), prompt: 'more' }, /fail code TASKID_ERROR/, { failCode: 'TASKID_ERROR' }],
  ])('answers %s with a tool error naming it', async (_name, tool, args, text, detail) => {
    const res = await call(tool, args);
    expect(res.isError).toBe(true);
    expect(textOf(res)).toMatch(text);
    const json = JSON.parse(textOf(res).split('\n').at(-1)!);
    expect(json.error).toMatchObject(detail);
  });

  it('keeps serving after errors: an unknown tool is a tool error too', async () => {
    const res = await call('make_coffee', {});
    expect(res.isError).toBe(true);
    expect(textOf(res)).toMatch(/no tool named make_coffee; the tools are generate_video, /);
    expect(jsonOf(await call('get_balance', {})).currency).toBe('USD');
    expect(stderr).toContain('serving');
  });
});

describe('longshot mcp against a server with only APIXO’s routes', () => {
  it('generates and reads the balance, and says plainly what that server does not have', async () => {
    const proxy = await startApixoOnlyProxy(t.url);
    const apixo = await connect(cli, { ...baseEnv(), LONGSHOT_BASE_URL: `${proxy.url}/api/v1`, LONGSHOT_API_KEY: t.key });
    try {
      const run = async (name: string, args: Record<string, unknown>) =>
        (await apixo.callTool({ name, arguments: args }, undefined, { timeout: 120_000 })) as CallToolResult;
      const { taskId } = jsonOf(await run('generate_video', { prompt: 'a quiet harbour', mode: 'fast' }));
      expect(jsonOf(await run('wait_for_task', { taskId })).state).toBe('success');
      expect(jsonOf(await run('get_balance', {})).currency).toBe('USD');
      for (const [tool, args, what] of [
        ['list_tasks', {}, 'no task list'],
        ['get_lineage', { taskId }, 'no lineage'],
        ['list_models', {}, 'no model catalogue'],
      ] as const) {
        const res = await run(tool, args);
        expect(res.isError, tool).toBe(true);
        expect(textOf(res), tool).toContain(`this server has ${what}`);
      }
      await expect(apixo.readResource({ uri: 'longshot://models' })).rejects.toThrow(/HTTP 404/);
    } finally {
      await apixo.close();
      await proxy.close();
    }
  });
});

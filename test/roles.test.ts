import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRole } from '../src/cli/serve.js';
import { type ChildService, startChildService, waitForExit } from './support/child-service.js';

/** `longshot serve --role api|worker|all`: the API and the workers scale as separate processes. */
const children: ChildService[] = [];
let dataDir = '';
afterAll(async () => {
  for (const c of children) c.child.kill('SIGKILL');
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('serve roles', () => {
  it('reads --role, --role=, LONGSHOT_ROLE, and defaults to all', () => {
    expect(parseRole([], {})).toBe('all');
    expect(parseRole(['--role', 'api'], {})).toBe('api');
    expect(parseRole(['--role=worker'], {})).toBe('worker');
    expect(parseRole([], { LONGSHOT_ROLE: 'worker' })).toBe('worker');
    expect(parseRole(['--role', 'all'], { LONGSHOT_ROLE: 'api' })).toBe('all');
    expect(() => parseRole(['--role', 'both'], {})).toThrow(/use all, api or worker/);
    expect(() => parseRole(['--workers'], {})).toThrow(/unknown option/);
  });

  it('an api process runs no tasks; a worker process (no HTTP) runs them', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'longshot-roles-'));
    const env = { LONGSHOT_DATA_DIR: dataDir };
    const api = await startChildService(env, ['--role', 'api']);
    children.push(api);
    expect(api.output()).toContain('Role: api');
    const key = api.key!;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(api.url + path, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return (await res.json()) as any;
    };
    // Fails fast once run (an image on a private address), so no render is needed.
    const input = { prompt: 'roles', mode: 'fast', generationType: 'REFERENCE_2_VIDEO', image_urls: ['http://10.255.255.1/a.png'] };
    const taskId = (await call('POST', '/api/v1/generateTask/veo-3-1', { input })).data.taskId;
    await new Promise((r) => setTimeout(r, 2500));
    expect((await call('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`)).data.state).toBe('pending');

    const worker = await startChildService(env, ['--role', 'worker']);
    children.push(worker);
    expect(worker.url).toBe('');
    expect(worker.output()).toContain('Role: worker');
    let state = 'pending';
    const deadline = Date.now() + 30_000;
    while (state === 'pending' || state === 'processing') {
      if (Date.now() > deadline) throw new Error(`task still ${state}`);
      await new Promise((r) => setTimeout(r, 200));
      state = (await call('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`)).data.state;
    }
    expect(state).toBe('failed');
    for (const c of [api, worker]) {
      c.child.kill('SIGTERM');
      expect((await waitForExit(c.child)).code).toBe(0);
    }
  });
});

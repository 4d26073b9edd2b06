import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { claimNextTask } from '../src/db/claim-task.js';
import { sweepTempDirs } from '../src/worker/temp-sweep.js';
import { type ChildService, startChildService, waitForExit } from './support/child-service.js';
import { shiftClock, startTestService } from './support/service.js';
import { until } from './support/until.js';

/**
 * A worker killed with SIGKILL leaves its render folders in `<dataDir>/tmp`. The next start
 * removes them before it claims anything, while the folders of a task that another process on
 * the same data directory is rendering right now stay.
 */
let dataDir = '';
const children: ChildService[] = [];
afterAll(async () => {
  // SIGTERM: a graceful stop also ends the renders' ffmpeg processes.
  for (const c of children) {
    if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGTERM');
  }
  await Promise.all(children.map((c) => waitForExit(c.child)));
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 60_000);

async function api(svc: ChildService, key: string, method: string, path: string, body?: unknown) {
  const res = await fetch(svc.url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

function taskRow(id: string): { state: string; lease_expires_at: number | null; attempts: number } {
  const db = new Database(join(dataDir, 'longshot.db'), { readonly: true });
  try {
    return db.prepare('select state, lease_expires_at, attempts from tasks where id = ?').get(id) as never;
  } finally {
    db.close();
  }
}

/** The processes `pid` started (ffmpeg), and theirs: a machine crash takes them down too. */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parentOf.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // the process ended meanwhile
    }
  }
  const found: number[] = [];
  for (let frontier = [pid]; frontier.length > 0; ) {
    const next = [...parentOf].filter(([, ppid]) => frontier.includes(ppid)).map(([p]) => p);
    found.push(...next);
    frontier = next;
  }
  return found;
}

async function renderFolder(tmp: string, taskId: string): Promise<string | undefined> {
  const names = await readdir(tmp).catch(() => [] as string[]);
  return names.find((n) => n.startsWith(`local-${taskId}-`));
}

describe('temp folders after a crash', () => {
  it("removes a killed render's folders at start and keeps those of a task rendering elsewhere", async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'longshot-tmp-sweep-'));
    const tmp = join(dataDir, 'tmp');
    const env = { LONGSHOT_DATA_DIR: dataDir, LONGSHOT_LEASE_MS: '1500', LONGSHOT_WORKERS: '1' };
    const quality = (prompt: string, seed: number) => ({ input: { prompt, mode: 'quality', seed } });

    // A renders X; B (same data dir) renders Y, since A's only worker is busy.
    const a = await startChildService(env);
    children.push(a);
    const key = a.key!;
    const x = (await api(a, key, 'POST', '/api/v1/generateTask/veo-3-1', quality('a long render that crashes', 21))).body.data.taskId as string;
    const xLocal = await until(() => renderFolder(tmp, x), 'the local engine folder of X');
    const b = await startChildService(env);
    children.push(b);
    const y = (await api(b, key, 'POST', '/api/v1/generateTask/veo-3-1', quality('a long render elsewhere', 22))).body.data.taskId as string;
    const yLocal = await until(() => renderFolder(tmp, y), 'the local engine folder of Y');

    // Folders nobody can map to a task: one older than a lease plus the task timeout, one new.
    await mkdir(join(tmp, 'junk-old'));
    await writeFile(join(tmp, 'junk-old', 'part'), 'x');
    const hourAgo = new Date(Date.now() - 3_600_000);
    await utimes(join(tmp, 'junk-old'), hourAgo, hourAgo);
    await mkdir(join(tmp, 'junk-new'));
    await mkdir(join(tmp, 's3'), { recursive: true });
    await writeFile(join(tmp, 's3', 'cached.mp4'), 'x');
    await utimes(join(tmp, 's3'), hourAgo, hourAgo);

    const doomed = [a.child.pid!, ...descendants(a.child.pid!)];
    for (const pid of doomed) process.kill(pid, 'SIGKILL');
    expect((await waitForExit(a.child)).signal).toBe('SIGKILL');
    expect(await readdir(tmp)).toEqual(expect.arrayContaining([`${x}-1`, xLocal, `${y}-1`, yLocal]));
    // X's lease (held by the dead process) runs out; Y's is renewed by B.
    await until(async () => {
      const row = taskRow(x);
      return row.state !== 'processing' || Number(row.lease_expires_at) < Date.now() ? true : undefined;
    }, "X's lease to run out");

    const c = await startChildService(env);
    children.push(c);
    const left = await readdir(tmp);
    expect(taskRow(y).state, 'Y must still be rendering for this check to mean anything').toBe('processing');
    expect(left).not.toContain(`${x}-1`);
    expect(left).not.toContain(xLocal);
    expect(left).not.toContain('junk-old');
    expect(left).toEqual(expect.arrayContaining([`${y}-1`, yLocal, 'junk-new', 's3']));
    expect(await readdir(join(tmp, 's3'))).toEqual(['cached.mp4']);
  }, 180_000);
});

describe('temp sweep of a running service (each maintenance sweep)', () => {
  it('keeps the folders of a task under a live lease, and removes them once the lease ran out', async () => {
    const t = await startTestService({}, { workers: false });
    try {
      const tmp = join(t.dataDir, 'tmp');
      const submitted = await t.api('POST', '/api/v1/generateTask/veo-3-1', { body: { input: { prompt: 'a calm sea', mode: 'fast' } } });
      const id = submitted.body.data.taskId as string;
      const deps = t.service.deps;
      const claimed = await claimNextTask(deps.db, deps.clock.now(), t.config.leaseMs, 'a-worker-elsewhere');
      expect(claimed?.id).toBe(id);
      expect(claimed?.attempts).toBe(1);
      for (const name of [`${id}-1`, `local-${id}-0123abcd`, `${id}-0`]) await mkdir(join(tmp, name), { recursive: true });
      // Folders made in the very millisecond of a sweep are left for the next one.
      await new Promise((r) => setTimeout(r, 5));

      expect(await sweepTempDirs(deps)).toBe(1); // an earlier attempt's dir goes even while the task runs
      expect((await readdir(tmp)).sort()).toEqual([`${id}-1`, `local-${id}-0123abcd`].sort());

      shiftClock(t).offset = t.config.leaseMs + 1; // the worker stopped renewing
      expect(await sweepTempDirs(deps)).toBe(2);
      expect(await readdir(tmp)).toEqual([]);
    } finally {
      await t.close();
    }
  });
});

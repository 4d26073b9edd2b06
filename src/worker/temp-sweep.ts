import type { Stats } from 'node:fs';
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { findTaskLeases } from '../db/tasks-repo.js';
import type { Deps } from '../services/deps.js';

/**
 * What lives in `<dataDir>/tmp`, by name:
 * - `<taskId>-<attempt>`: run-task's per-attempt work dir (downloaded images, engine outputs);
 * - `local-<taskId>-<8 hex>`: the local engine's per-render dir (ffmpeg intermediates);
 * - `s3`: the S3 store's cache of extend sources, which the store manages itself.
 * Both work dirs are removed when their render ends, except when the process dies (SIGKILL,
 * OOM, power loss): then they stay until this sweep finds them.
 */
const RUN_DIR = /^([0-9a-f]{32})-(\d{1,9})$/;
const LOCAL_DIR = /^local-([0-9a-f]{32})-[0-9a-f]{8}$/;
const NOT_OURS = new Set(['s3']);
/** Ids per query, well under every driver's limit on bound parameters. */
const CHUNK = 500;

interface Entry {
  name: string;
  taskId: string | null;
  /** The attempt a run-task dir belongs to; null for the local engine's dirs (they do not say). */
  attempt: number | null;
}

/**
 * Removes the temp folders of renders that are no longer running, in this process or any other
 * sharing the data dir. A folder is kept while its task is `processing` under a lease that has
 * not run out (someone may be rendering it right now), unless it is a run-task dir of an earlier
 * attempt. A folder that names no known task is judged by its age: older than a lease plus the
 * task timeout, no render can still be using it. Returns how many entries were removed.
 */
export async function sweepTempDirs(deps: Deps): Promise<number> {
  const tmp = join(deps.config.dataDir, 'tmp');
  const listedAt = Date.now();
  let names: string[];
  try {
    names = await readdir(tmp);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  // The listing comes before the task rows are read, and a render makes its folder only after
  // it claimed the task: a folder seen here whose render is live shows as live below.
  const entries = names.filter((n) => !NOT_OURS.has(n)).map(parse);
  const ids = [...new Set(entries.flatMap((e) => (e.taskId ? [e.taskId] : [])))];
  const rows = new Map<string, { state: string; attempts: number; lease_expires_at: number | null }>();
  for (let i = 0; i < ids.length; i += CHUNK) {
    for (const r of await findTaskLeases(deps.db, ids.slice(i, i + CHUNK))) rows.set(r.id, r);
  }

  const now = deps.clock.now();
  const maxAgeMs = deps.config.leaseMs + deps.config.taskTimeoutMs;
  const removed: string[] = [];
  for (const e of entries) {
    const path = join(tmp, e.name);
    const row = e.taskId ? rows.get(e.taskId) : undefined;
    let stat: Stats;
    try {
      stat = await lstat(path);
    } catch {
      continue; // its render ended and removed it meanwhile
    }
    // Made (or written to) after the listing: a render that started since; judge it next time.
    if (stat.ctimeMs >= listedAt) continue;
    if (row) {
      const live = row.state === 'processing' && Number(row.lease_expires_at) > now;
      if (live && (e.attempt === null || e.attempt === Number(row.attempts))) continue;
    } else if (stat.mtimeMs > listedAt - maxAgeMs) {
      // Unknown to this database: a render's dir gets new entries as it works, so a recent
      // mtime means it may be in use (by a deployment on another database, or a newer naming).
      continue;
    }
    try {
      await rm(path, { recursive: true, force: true });
      removed.push(e.name);
    } catch (err) {
      deps.log.warn({ err, path }, 'temp sweep: could not remove a leftover folder; trying again next sweep');
    }
  }
  if (removed.length > 0) {
    deps.log.info({ count: removed.length, names: removed.slice(0, 20) }, 'temp sweep: removed the temp folders of renders that are no longer running');
  }
  return removed.length;
}

function parse(name: string): Entry {
  const run = RUN_DIR.exec(name);
  if (run) return { name, taskId: run[1]!, attempt: Number(run[2]) };
  const local = LOCAL_DIR.exec(name);
  if (local) return { name, taskId: local[1]!, attempt: null };
  return { name, taskId: null, attempt: null };
}

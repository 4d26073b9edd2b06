import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { type Config, loadConfig } from '../../src/config.js';
import { createAccount, createApiKey, type KeySettings } from '../../src/db/accounts-repo.js';
import { type Service, type ServiceOptions, startService } from '../../src/main.js';
import { testDatabaseEnv } from './databases.js';
import { testStorageEnv } from './s3-server.js';

export interface TestService {
  service: Service;
  url: string;
  /** Key of the `default` account created on first start. */
  key: string;
  dataDir: string;
  config: Config;
  /** Creates another account with a key (with these permissions and limits), for isolation and limit tests. */
  newAccount(name: string, creditUsd?: number, settings?: Partial<KeySettings>): Promise<{ accountId: string; key: string }>;
  api(method: string, path: string, opts?: { key?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> }): Promise<ApiResponse>;
  close(): Promise<void>;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
}

/** Tests poll and submit far faster than a person; limits are switched on only where tested. */
const UNLIMITED = { LONGSHOT_SUBMIT_RPM: '0', LONGSHOT_STATUS_RPM: '0', LONGSHOT_MAX_UNFINISHED: '0' };

/**
 * A real service on loopback with a fresh SQLite database in a temp dir (or, with
 * LONGSHOT_TEST_DATABASE=postgres and DATABASE_URL, a fresh PostgreSQL schema). `env` overrides
 * configuration the way an operator would (LONGSHOT_* variables).
 */
export async function startTestService(
  env: Record<string, string> = {},
  opts: { workers?: boolean /** Reuse this data dir (a restart); the caller removes it. */; dataDir?: string; service?: Partial<ServiceOptions> } = {},
): Promise<TestService> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'longshot-test-')));
  // LONGSHOT_TEST_DATABASE=postgres: the same tests on a fresh PostgreSQL schema (one per data dir).
  const database = await testDatabaseEnv(dataDir);
  // LONGSHOT_TEST_STORAGE=s3: result files in a local S3-compatible server instead of dataDir.
  const storage = await testStorageEnv(dataDir);
  // LONGSHOT_TEST_RATE_LIMITER=redis: rate limits on REDIS_URL instead of in memory.
  const limiter = process.env.LONGSHOT_TEST_RATE_LIMITER === 'redis' && process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {};
  const config = loadConfig({
    LONGSHOT_PORT: '0',
    LONGSHOT_DATA_DIR: dataDir,
    LONGSHOT_LOG_LEVEL: 'error',
    ...UNLIMITED,
    ...database.env,
    ...storage,
    ...limiter,
    ...env,
  });
  const service = await startService(config, { log: pino({ level: 'error' }), workers: opts.workers, ...opts.service });
  const url = service.url!;
  const key = service.firstKey!;
  return {
    service,
    url,
    key,
    dataDir,
    config,
    async newAccount(name, creditUsd = 10, settings = {}) {
      const now = Date.now();
      const account = await createAccount(service.deps.db, name, Math.round(creditUsd * 1_000_000), now);
      const created = await createApiKey(service.deps.db, account.id, null, now, settings);
      return { accountId: account.id, key: created.key };
    },
    async api(method, path, o = {}) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      const k = o.key === undefined ? key : o.key;
      if (k !== null) headers.authorization = `Bearer ${k}`;
      let body: string | undefined;
      if (o.rawBody !== undefined) body = o.rawBody;
      else if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(url + path, { method, headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, headers: res.headers, body: parsed };
    },
    async close() {
      await service.close();
      if (!opts.dataDir) {
        await database.drop();
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** Polls statusTask until the task is final (or the deadline passes). */
export async function waitForTask(t: TestService, model: string, taskId: string, key?: string, timeoutMs = 90_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await t.api('GET', `/api/v1/statusTask/${model}?taskId=${taskId}`, { key });
    if (res.status !== 200) throw new Error(`status ${res.status}: ${JSON.stringify(res.body)}`);
    const state = res.body.data.state;
    if (state === 'success' || state === 'failed') return res.body.data;
    if (Date.now() > deadline) throw new Error(`task ${taskId} still ${state} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Lets a test move the service's time: the service reads the clock through `deps.clock`, so
 * replacing it shifts leases, rate windows, URL expiry and retention together. `offset` is ms.
 */
export function shiftClock(t: TestService): { offset: number } {
  const clock = t.service.deps.clock;
  const shift = { offset: 0 };
  t.service.deps.clock = { now: () => clock.now() + shift.offset };
  return shift;
}

/**
 * Removes a data dir given to startTestService with `dataDir` (restart tests keep it across
 * services), and with LONGSHOT_TEST_DATABASE=postgres the schema named after it.
 */
export async function removeDataDir(dataDir: string): Promise<void> {
  await (await testDatabaseEnv(dataDir)).drop();
  await rm(dataDir, { recursive: true, force: true });
}

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createAccount, createApiKey } from '../src/db/accounts-repo.js';
import { available } from './support/requires.js';
import { startTestService, type TestService } from './support/service.js';
import { until } from './support/until.js';

/**
 * Rate limits on Redis while Redis goes away: a Redis of this test's own (killed, then hung with
 * SIGSTOP) under two API services. Requests keep being answered at once, each process enforces
 * the limits on its own meanwhile, and each outage is logged once when it starts and once when
 * it ends.
 */
const hasRedis = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const services: TestService[] = [];
let redis: ChildProcess | null = null;
let redisDir = '';
afterAll(async () => {
  for (const s of services.reverse()) await s.close();
  if (redis && redis.exitCode === null && redis.signalCode === null) {
    redis.kill('SIGCONT');
    redis.kill('SIGKILL');
  }
  if (redisDir) await rm(redisDir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** redis-server needs a fixed port: the caller picks a free one. */
function startRedis(port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) resolve(child);
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code, signal) => reject(new Error(`redis-server exited (${code ?? signal}):\n${out}`)));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
}

/** A pino logger whose lines the test reads. */
function capturedLogger() {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  const about = (level: number) => lines.filter((l) => l.level === level && /redis/i.test(l.msg));
  return { log: pino({ level: 'info' }, stream), warnings: () => about(40), infos: () => about(30) };
}

describe.skipIf(!available('redis-server', hasRedis ? null : 'no redis-server on PATH'))(
  'rate limits while Redis is down (skipped: no redis-server installed)',
  () => {
    it('answers at once, limits per process during the outage, and logs each outage once', async () => {
      redisDir = await mkdtemp(join(tmpdir(), 'longshot-redis-'));
      const port = await freePort();
      redis = await startRedis(port);
      const env = { REDIS_URL: `redis://127.0.0.1:${port}` };
      const logA = capturedLogger();
      const logB = capturedLogger();
      const a = await startTestService(env, { workers: false, service: { log: logA.log } });
      services.push(a);
      const b = await startTestService(env, { workers: false, dataDir: a.dataDir, service: { log: logB.log } });
      services.push(b);
      // One fixed instant in the middle of a minute window for both: no window boundary mid-test.
      const instant = Math.floor(Date.now() / 60_000) * 60_000 + 30_000;
      for (const s of [a, b]) s.service.deps.clock = { now: () => instant };
      const account = await createAccount(a.service.deps.db, 'outage', 100_000_000, Date.now());
      const { key } = await createApiKey(a.service.deps.db, account.id, null, Date.now(), { statusRpm: 6 });
      const read = (s: TestService) => s.api('GET', '/api/v1/apikeys/current-balance', { key });
      const reads = async (s: TestService, n: number) => {
        const codes: number[] = [];
        for (let i = 0; i < n; i++) codes.push((await read(s)).status);
        return codes;
      };

      // Redis up: one budget for both processes (the fifth read sees 1 left of 6).
      expect([...(await reads(a, 2)), ...(await reads(b, 2))]).toEqual([200, 200, 200, 200]);
      const fifth = await read(a);
      expect(fifth.status).toBe(200);
      expect(fifth.headers.get('ratelimit')).toMatch(/^"status";r=1;t=\d+$/);

      // Redis killed: every request is answered, and each process allows the key its own 6 a
      // minute (counting what it let through before the outage: a 3, b 2).
      redis.kill('SIGKILL');
      await exited(redis);
      const duringA = await reads(a, 20);
      const duringB = await reads(b, 20);
      expect(duringA).toEqual([...Array(3).fill(200), ...Array(17).fill(429)]);
      expect(duringB).toEqual([...Array(4).fill(200), ...Array(16).fill(429)]);
      expect(logA.warnings()).toHaveLength(1);
      expect(logB.warnings()).toHaveLength(1);
      expect(logA.infos()).toHaveLength(0);

      // Redis back (empty): the shared count is used again, and the end of the outage is logged once.
      redis = await startRedis(port);
      await until(async () => ((await read(a)).status === 200 ? true : undefined), 'a to use Redis again');
      await until(async () => ((await read(b)).status === 200 ? true : undefined), 'b to use Redis again');
      await until(async () => (logA.infos().length > 0 && logB.infos().length > 0 ? true : undefined), 'the end of the outage to be logged');
      expect(logA.infos()).toHaveLength(1);
      expect(logB.infos()).toHaveLength(1);

      // Redis hung (stopped, connections open): still answered (the key is over its limit in
      // this process's own count by now), and logged as a second outage, once.
      redis.kill('SIGSTOP');
      expect(await reads(a, 20)).toEqual(Array(20).fill(429));
      expect(logA.warnings()).toHaveLength(2);
      redis.kill('SIGCONT');
      await until(async () => (logA.infos().length === 2 ? true : undefined), 'the end of the second outage to be logged');
      expect(logA.warnings()).toHaveLength(2);
    });
  },
);

import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { DIALECTS, type TestDb } from '../../test/support/databases.js';
import { available } from '../../test/support/requires.js';
import { createTaskEvents } from '../services/task-events.js';
import { createPgWakeHub, type PgWakeHub } from './pg-notify-waker.js';
import { createWaker, type Waker } from './waker.js';

/** Cross-process wake-ups: a wake in one process (hub) reaches the workers of another via NOTIFY. */
const pgDialect = DIALECTS.find((d) => d.name === 'postgres');
const open: Array<{ close(): Promise<void> } | TestDb> = [];
afterAll(async () => {
  for (const o of open.reverse()) await ('drop' in o ? o.drop() : o.close());
});

/** A local waker that counts its wakes. */
function counting(): Waker & { wakes: number } {
  const inner = createWaker();
  const w = {
    wakes: 0,
    wake: () => {
      w.wakes++;
      inner.wake();
    },
    wait: (ms: number) => inner.wait(ms),
  };
  return w;
}

describe.skipIf(!available('PostgreSQL (DATABASE_URL)', pgDialect ? null : 'DATABASE_URL is not set'))(
  'PostgreSQL LISTEN/NOTIFY waker (skipped: set DATABASE_URL to run it)',
  () => {
    it("wakes the other process's waiting workers on the same schema, and not another schema's", async () => {
      const a = await pgDialect!.open();
      const other = await pgDialect!.open();
      open.push(a, other);
      const log = pino({ level: 'silent' });
      const conn = await connectionStringOf(a);
      const otherConn = await connectionStringOf(other);
      const api: PgWakeHub = createPgWakeHub({ db: a.db, connectionString: conn, log });
      const worker: PgWakeHub = createPgWakeHub({ db: a.db, connectionString: conn, log });
      const stranger: PgWakeHub = createPgWakeHub({ db: other.db, connectionString: otherConn, log });
      open.push(api, worker, stranger);
      const apiLocal = counting();
      const workerLocal = counting();
      const strangerLocal = counting();
      const submitWake = api.waker('tasks', apiLocal);
      worker.waker('tasks', workerLocal);
      stranger.waker('tasks', strangerLocal);
      await worker.listen();
      await stranger.listen();
      const afterListen = { worker: workerLocal.wakes, stranger: strangerLocal.wakes };

      const waiting = workerLocal.wait(20_000).then(() => 'woken');
      submitWake.wake();
      expect(apiLocal.wakes).toBe(1); // this process's own workers at once
      expect(await waiting).toBe('woken');
      expect(workerLocal.wakes).toBe(afterListen.worker + 1);
      await new Promise((r) => setTimeout(r, 200));
      expect(strangerLocal.wakes).toBe(afterListen.stranger);
    });

    it('sends one NOTIFY for a burst of wakes and one more after it, never none after the last', async () => {
      const a = await pgDialect!.open();
      open.push(a);
      const log = pino({ level: 'silent' });
      const conn = await connectionStringOf(a);
      const api = createPgWakeHub({ db: a.db, connectionString: conn, log });
      const worker = createPgWakeHub({ db: a.db, connectionString: conn, log });
      open.push(api, worker);
      const workerLocal = counting();
      const submitWake = api.waker('tasks', counting());
      worker.waker('tasks', workerLocal);
      await worker.listen();
      const base = workerLocal.wakes;
      const reached = async (n: number) => {
        while (workerLocal.wakes < n) await workerLocal.wait(20_000);
      };
      // 100 submits woken in one turn: the first NOTIFY goes at once, the other 99 share one sent
      // after it (a worker woken by the first may have claimed before the last commit).
      for (let i = 0; i < 100; i++) submitWake.wake();
      await reached(base + 2);
      // A later wake is its own NOTIFY; notifications arrive in order, so nothing of the burst is
      // still to come once it has.
      submitWake.wake();
      await reached(base + 3);
      expect(workerLocal.wakes).toBe(base + 3);
    });

    it('listens on an address of its own once a NOTIFY through the pool arrives there, and refuses one that reaches another database', async () => {
      const a = await pgDialect!.open();
      open.push(a);
      const log = pino({ level: 'silent' });
      const conn = await connectionStringOf(a);
      // The same server without the pool's search_path, as a direct URL beside a pooler's would be.
      const direct = new URL(process.env.DATABASE_URL!);
      const app = `lslisten_${Math.random().toString(36).slice(2, 10)}`;
      direct.searchParams.set('application_name', app);
      const api = createPgWakeHub({ db: a.db, connectionString: conn, log });
      const worker = createPgWakeHub({ db: a.db, connectionString: direct.toString(), probe: true, log });
      open.push(api, worker);
      const workerLocal = counting();
      const submitWake = api.waker('tasks', counting());
      worker.waker('tasks', workerLocal);
      const events = worker.taskEvents(createTaskEvents());
      await worker.listen();
      // The trigger was found in the pool's schema, not the LISTEN connection's search_path.
      expect(events.quietWrites?.()).toBe(true);
      const { sql } = await import('kysely');
      const listeners = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where application_name = ${app}`.execute(a.db.kysely);
      expect(listeners.rows[0]!.n).toBe(1);
      const base = workerLocal.wakes;
      const waiting = workerLocal.wait(20_000).then(() => 'woken');
      submitWake.wake();
      expect(await waiting).toBe('woken');
      expect(workerLocal.wakes).toBe(base + 1);

      const elsewhere = new URL(process.env.DATABASE_URL!);
      elsewhere.pathname = '/postgres';
      const lost = createPgWakeHub({ db: a.db, connectionString: elsewhere.toString(), probe: true, probeMs: 300, log });
      open.push(lost);
      lost.waker('tasks', counting());
      await expect(lost.listen()).rejects.toThrow(/LONGSHOT_PG_LISTEN_URL does not reach the database DATABASE_URL writes to/);
    });
  },
);

/** The test databases carry their schema in the pool's connection string; read it back. */
async function connectionStringOf(t: TestDb): Promise<string> {
  const { sql } = await import('kysely');
  const r = await sql<{ s: string }>`select current_schema() as s`.execute(t.db.kysely);
  const url = new URL(process.env.DATABASE_URL!);
  url.searchParams.set('options', `-c search_path=${r.rows[0]!.s}`);
  return url.toString();
}

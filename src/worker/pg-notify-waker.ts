import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Db } from '../db/connect.js';
import type { TaskEvents } from '../services/task-events.js';
import type { Waker } from './waker.js';

type WakeTopic = 'tasks' | 'webhooks';
/** The channel of task state changes, for long-poll and SSE readers in every API process. */
const EVENTS = 'events';

/**
 * Cross-process wake-ups on PostgreSQL: LISTEN/NOTIFY beside the in-process waker.
 *
 * A wake is still only a hint (docs/architecture.md: polling remains the truth). `wake()` wakes this
 * process's loops at once and sends a NOTIFY that every other process listening on the same
 * database and schema turns into a local wake. NOTIFY is sent after the submit transaction has
 * committed (the caller wakes after commit), so a woken worker always finds the row; a lost
 * notification (listener reconnecting, a process starting) costs at most one poll interval.
 */
export interface PgWakeHub {
  /** A Waker for `topic` that also wakes other processes; `local` is this process's waker. */
  waker(topic: WakeTopic, local: Waker): Waker;
  /**
   * Task events that also reach the readers of other processes: a task settled by a worker
   * elsewhere wakes this process's long-poll and SSE readers at once instead of at their re-read.
   */
  taskEvents(local: TaskEvents): TaskEvents;
  /** Opens the LISTEN connection (processes with workers, a sender or task readers need it). */
  listen(): Promise<void>;
  close(): Promise<void>;
}

export interface PgWakeHubOptions {
  db: Db;
  /** The same DATABASE_URL the pool uses (its search_path picks the schema). */
  connectionString: string;
  log: Logger;
  /** Delay before re-opening a lost LISTEN connection (default 1 s, doubling up to 30 s). */
  reconnectMs?: number;
}

export function createPgWakeHub(opts: PgWakeHubOptions): PgWakeHub {
  const { db, log } = opts;
  const locals = new Map<WakeTopic, Waker>();
  let events: TaskEvents | null = null;
  // Our own NOTIFY comes back to our LISTEN connection; the local publish already happened.
  const self = randomBytes(6).toString('hex');
  let prefix: Promise<string> | null = null;
  let client: pg.Client | null = null;
  let closed = false;
  let listening = false;
  let retryTimer: NodeJS.Timeout | null = null;
  let backoff = opts.reconnectMs ?? 1000;

  // NOTIFY reaches every session of the database, not of the schema: name channels after the
  // schema so services sharing a database (tests, staging beside production) do not wake each other.
  const channelPrefix = (): Promise<string> =>
    (prefix ??= sql<{ s: string }>`select current_schema() as s`
      .execute(db.kysely)
      .then((r) => `longshot_${(r.rows[0]?.s ?? 'public').replace(/[^a-z0-9_]/gi, '_')}`.slice(0, 50)));
  const channel = async (topic: WakeTopic | typeof EVENTS): Promise<string> => `${await channelPrefix()}_${topic}`;

  async function notify(topic: WakeTopic | typeof EVENTS, payload = ''): Promise<void> {
    await sql`select pg_notify(${await channel(topic)}, ${payload})`.execute(db.kysely);
  }

  async function connect(): Promise<void> {
    const c = new pg.Client({ connectionString: opts.connectionString });
    c.on('error', (err) => {
      log.warn({ err }, 'the LISTEN connection failed; reconnecting (workers keep polling meanwhile)');
      drop(c);
    });
    c.on('end', () => drop(c));
    c.on('notification', (msg) => {
      if (msg.channel.endsWith(`_${EVENTS}`)) {
        const [from, taskId] = (msg.payload ?? '').split(':');
        if (from !== self && taskId) events?.publish(taskId);
        return;
      }
      for (const [topic, w] of locals) if (msg.channel.endsWith(`_${topic}`)) w.wake();
    });
    await c.connect();
    for (const topic of locals.keys()) await c.query(`listen "${await channel(topic)}"`);
    if (events) await c.query(`listen "${await channel(EVENTS)}"`);
    if (closed) {
      await c.end().catch(() => {});
      return;
    }
    client = c;
    backoff = opts.reconnectMs ?? 1000;
    // Anything submitted while we were not listening is found by this wake's claim.
    for (const w of locals.values()) w.wake();
  }

  function drop(c: pg.Client): void {
    if (client !== c) return;
    client = null;
    c.end().catch(() => {});
    schedule();
  }

  function schedule(): void {
    if (closed || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      connect().catch((err) => {
        log.warn({ err }, 'reopening the LISTEN connection failed; will retry');
        backoff = Math.min(30_000, backoff * 2);
        schedule();
      });
    }, backoff);
    retryTimer.unref();
  }

  return {
    waker(topic, local) {
      locals.set(topic, local);
      return {
        wake() {
          local.wake();
          notify(topic).catch((err) => log.warn({ err, topic }, 'NOTIFY failed; other processes will find the work by polling'));
        },
        wait: (ms) => local.wait(ms),
      };
    },
    taskEvents(local) {
      events = local;
      return {
        publish(taskId) {
          local.publish(taskId);
          notify(EVENTS, `${self}:${taskId}`).catch((err) => log.warn({ err }, 'NOTIFY of a task event failed; readers elsewhere re-read on their timer'));
        },
        next: (taskId, ms, signal) => local.next(taskId, ms, signal),
        waiting: () => local.waiting(),
      };
    },
    async listen() {
      if (listening) return;
      listening = true;
      await connect();
    },
    async close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}

import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Db } from '../db/connect.js';
import { laneQueue } from '../db/lane-queue.js';
import { channelPrefix as prefixOf, ROWS } from '../db/pg-channels.js';
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
   * They travel on migration 0012's row trigger (every write to a task, at its commit); only
   * where that trigger is missing does a publish send a NOTIFY of its own.
   */
  taskEvents(local: TaskEvents): TaskEvents;
  /** Opens the LISTEN connection (processes with workers, a sender or task readers need it). */
  listen(): Promise<void>;
  close(): Promise<void>;
}

export interface PgWakeHubOptions {
  db: Db;
  /**
   * The LISTEN connection's address: DATABASE_URL, or LONGSHOT_PG_LISTEN_URL where the pool goes
   * through a pooler that cannot keep a session listening. The schema is the pool's either way.
   */
  connectionString: string;
  /**
   * The LISTEN connection has an address of its own: at each connect, a NOTIFY sent through the
   * pool must come back on it before anything trusts it (the row cache would otherwise keep rows
   * no notification can drop).
   */
  probe?: boolean;
  /** How long the probe waits for its notification (default 5 s). */
  probeMs?: number;
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

  // Channels are named after the pool's schema (db/pg-channels.ts).
  let schema: Promise<string> | null = null;
  const schemaOf = (): Promise<string> =>
    (schema ??= sql<{ s: string }>`select current_schema() as s`.execute(db.kysely).then((r) => r.rows[0]?.s ?? 'public'));
  const channelPrefix = (): Promise<string> => (prefix ??= schemaOf().then(prefixOf));
  const channel = async (topic: WakeTopic | typeof EVENTS | typeof ROWS | typeof PROBE): Promise<string> => `${await channelPrefix()}_${topic}`;
  const rows = db.taskCache;
  /**
   * Migration 0012's trigger was there and enabled at the last connect: every task write then
   * reaches the other processes' readers by itself, and a task event needs no NOTIFY of its own.
   */
  let triggerCarriesEvents = false;

  async function notify(topic: WakeTopic | typeof EVENTS, payload = ''): Promise<void> {
    await sql`select pg_notify(${await channel(topic)}, ${payload})`.execute(db.kysely);
  }

  /**
   * The rows channel's NOTIFY for writes that kept the trigger quiet, each id as the trigger
   * sends it; ids that arrive while one statement is in flight share the next (db/lane-queue.ts).
   * Its transaction writes nothing else and commits without waiting for its WAL flush: a
   * notification lost in a crash is lost either way, and not waiting is what keeps PostgreSQL's
   * database-wide notify lock short. Lost (this process dies first, the statement fails), readers elsewhere are
   * bounded by the row cache's age limit and the long-poll's re-read timer.
   */
  const rowNotices = laneQueue<string>(
    1,
    () => ROWS,
    // A named statement (planned once per connection): one is sent for every claim and settle.
    async (ids) => {
      try {
        await db.selectOne(ROW_NOTICES_SQL, [await channel(ROWS), ids]);
      } catch (err) {
        log.warn({ err }, 'NOTIFY of task rows failed; readers elsewhere re-read when their kept row ages out');
      }
    },
  );

  async function connect(): Promise<void> {
    const c = new pg.Client({ connectionString: opts.connectionString });
    c.on('error', (err) => {
      log.warn({ err }, 'the LISTEN connection failed; reconnecting (workers keep polling meanwhile)');
      drop(c);
    });
    c.on('end', () => drop(c));
    c.on('notification', (msg) => {
      if (msg.channel.endsWith(`_${ROWS}`)) {
        if (!msg.payload) return;
        rows?.changed(msg.payload);
        // A write to the task, committed: its readers here re-read (this process's own writes
        // come back too; a second wake of a reader costs one re-read).
        events?.publish(msg.payload);
        return;
      }
      if (msg.channel.endsWith(`_${EVENTS}`)) {
        const [from, taskId] = (msg.payload ?? '').split(':');
        if (from !== self && taskId) events?.publish(taskId);
        return;
      }
      for (const [topic, w] of locals) if (msg.channel.endsWith(`_${topic}`)) w.wake();
    });
    await c.connect();
    if (opts.probe) await probe(c);
    for (const topic of locals.keys()) await c.query(`listen "${await channel(topic)}"`);
    if (events) await c.query(`listen "${await channel(EVENTS)}"`);
    // The row cache is kept true by migration 0012's trigger: listen first, then look that it is
    // there and enabled (a restore with triggers disabled must not leave the cache trusting it).
    const rowsHeard = rows || events ? await listenForRows(c) : false;
    if (closed) {
      await c.end().catch(() => {});
      return;
    }
    client = c;
    triggerCarriesEvents = rowsHeard;
    rows?.listening(rowsHeard);
    backoff = opts.reconnectMs ?? 1000;
    // Anything submitted while we were not listening is found by this wake's claim.
    for (const w of locals.values()) w.wake();
  }

  async function listenForRows(c: pg.Client): Promise<boolean> {
    await c.query(`listen "${await channel(ROWS)}"`);
    // The pool's schema, named: the LISTEN connection's own search_path may differ.
    const found = await c.query(
      "select 1 from pg_trigger where tgname = 'longshot_task_row_changed' and tgrelid = to_regclass(format('%I.tasks', $1::text)) and tgenabled in ('O', 'A')",
      [await schemaOf()],
    );
    if (found.rowCount === 0)
      log.warn('the tasks row trigger (migration 0012) is missing or disabled: status reads are not cached, task events are sent one by one');
    return (found.rowCount ?? 0) > 0;
  }

  /** A NOTIFY sent through the pool must reach `c` in time; otherwise `c` is closed and this throws. */
  async function probe(c: pg.Client): Promise<void> {
    const probeChannel = await channel(PROBE);
    const waitMs = opts.probeMs ?? PROBE_MS;
    const token = randomBytes(6).toString('hex');
    const heard = new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        c.off('notification', onNote);
        resolve(ok);
      };
      const onNote = (msg: pg.Notification) => msg.channel === probeChannel && msg.payload === token && done(true);
      const timer = setTimeout(() => done(false), waitMs);
      c.on('notification', onNote);
    });
    await c.query(`listen "${probeChannel}"`);
    await sql`select pg_notify(${probeChannel}, ${token})`.execute(db.kysely);
    const ok = await heard;
    await c.query(`unlisten "${probeChannel}"`).catch(() => {});
    if (ok) return;
    await c.end().catch(() => {});
    throw new Error(
      `LONGSHOT_PG_LISTEN_URL does not reach the database DATABASE_URL writes to: a NOTIFY sent through DATABASE_URL did not arrive on it within ${waitMs / 1000} s`,
    );
  }

  function drop(c: pg.Client): void {
    if (client !== c) return;
    client = null;
    rows?.listening(false);
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
      // One NOTIFY in flight per topic: wakes asked for meanwhile share the next one, sent after
      // it. A wake carries no payload and a woken worker claims until the queue is empty, so a
      // NOTIFY that leaves after a caller's commit is all that caller needs; at thousands of
      // submits per second this is one round trip per batch of them instead of one each.
      let sending = false;
      let again = false;
      const send = (): void => {
        sending = true;
        again = false;
        notify(topic)
          .catch((err) => log.warn({ err, topic }, 'NOTIFY failed; other processes will find the work by polling'))
          .finally(() => {
            sending = false;
            if (again) send();
          });
      };
      return {
        wake() {
          local.wake();
          if (sending) again = true;
          else send();
        },
        wait: (ms) => local.wait(ms),
      };
    },
    taskEvents(local) {
      events = local;
      return {
        publish(taskId, rowUnsent) {
          // This process's own write, just committed: its next read must see it, not the kept row.
          rows?.changed(taskId);
          local.publish(taskId);
          if (rowUnsent) {
            rowNotices(taskId);
            return;
          }
          // Without the trigger (or before the first connect saw it), the event goes out as a
          // NOTIFY of its own, as older versions send and every version still hears.
          if (!triggerCarriesEvents) {
            notify(EVENTS, `${self}:${taskId}`).catch((err) => log.warn({ err }, 'NOTIFY of a task event failed; readers elsewhere re-read on their timer'));
          }
        },
        next: (taskId, ms, signal) => local.next(taskId, ms, signal),
        waiting: () => local.waiting(),
        // The trigger was seen at the last connect; when it was not, every write notifies as before.
        quietWrites: () => triggerCarriesEvents,
      };
    },
    async listen() {
      if (listening) return;
      listening = true;
      await connect();
    },
    async close() {
      closed = true;
      rows?.listening(false);
      if (retryTimer) clearTimeout(retryTimer);
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}

/** The channel of the LISTEN connection's check at connect ({@link PgWakeHubOptions.probe}). */
const PROBE = 'probe';
const PROBE_MS = 5000;

/** `pg_notify` of every id of $2 on channel $1, in a transaction that does not wait for its flush. */
const ROW_NOTICES_SQL = "select count(pg_notify($1, id)) as n from unnest($2::text[]) as id where set_config('synchronous_commit', 'off', true) is not null";

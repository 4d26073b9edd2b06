import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newTaskId } from '../domain/ids.js';
import { createAccount } from './accounts-repo.js';
import { claimNextTask } from './claim-task.js';
import { type Db, openSqlite } from './connect.js';
import { migrateToLatest } from './migrations.js';
import { sqliteTaskReadCache, type TaskReadCache, type TaskRowReader } from './sqlite-task-cache.js';
import { findTaskStatusNow, insertTask } from './tasks-repo.js';

/**
 * The task read cache must never answer a row that a commit has changed, whoever committed it:
 * this process's writer (in or out of a transaction), another connection, or another process.
 * Each case below reads through the cache with a read function that counts its calls, so the
 * tests see both what is answered and whether SQLite was asked.
 */
let dir: string;
let file: string;
let writer: Database.Database;
let reader: Database.Database;
let cache: TaskReadCache;
let reads = 0;
let writeLock = false;
const SQL = 'select id, state from tasks where id = ?';

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'longshot-task-cache-'));
  file = join(dir, 'c.db');
  writer = new Database(file);
  writer.pragma('journal_mode = WAL');
  writer.exec("create table tasks (id text primary key, state text not null); insert into tasks values ('a', 'pending'), ('b', 'pending');");
  reader = new Database(file, { readonly: true });
  cache = sqliteTaskReadCache(writer, file, read, () => writeLock);
  reads = 0;
  writeLock = false;
});
afterEach(async () => {
  cache.close();
  reader.close();
  writer.close();
  await rm(dir, { recursive: true, force: true });
});

const read: TaskRowReader = (text, params, make) => {
  reads++;
  const values = reader
    .prepare(text)
    .raw(true)
    .get(...params) as unknown[] | undefined;
  return values === undefined ? undefined : make(values);
};
const asIs = (values: unknown[]) => values;
/** One statement committed by another connection to `path`. */
const commitElsewhere = (path: string, statement: string, ...params: unknown[]) => {
  const other = new Database(path);
  other.prepare(statement).run(...params);
  other.close();
};
const state = (id: string) => cache.get(id, SQL, [id], asIs)?.[1];

describe('sqlite task read cache', () => {
  it('answers from memory while nothing commits, and per text and parameters', () => {
    expect(state('a')).toBe('pending');
    expect(state('a')).toBe('pending');
    expect(state('a')).toBe('pending');
    expect(reads).toBe(1);
    expect(cache.get('a', `${SQL} `, ['a'], asIs)?.[1]).toBe('pending'); // another text: read
    expect(reads).toBe(2);
    expect(cache.get('zz', SQL, ['zz'], asIs)).toBeUndefined(); // no row: never kept
    expect(cache.get('zz', SQL, ['zz'], asIs)).toBeUndefined();
    expect(reads).toBe(4);
  });

  it("drops exactly the rows this process's writer changes and keeps the others", () => {
    state('a');
    state('b');
    writer.prepare("update tasks set state = 'processing' where id = 'a'").run();
    expect(state('a')).toBe('processing');
    expect(state('b')).toBe('pending');
    expect(reads).toBe(3); // a twice, b once: our own commit did not drop b
    writer.prepare("delete from tasks where id = 'b'").run();
    expect(state('b')).toBeUndefined();
    writer.prepare("insert into tasks values ('b', 'success')").run();
    expect(state('b')).toBe('success');
  });

  it('answers the committed row while a transaction that wrote it is open, and follows its commit or rollback', () => {
    expect(state('a')).toBe('pending');
    writer.exec('begin immediate');
    writer.prepare("update tasks set state = 'success' where id = 'a'").run();
    expect(state('a')).toBe('pending'); // not committed: the reader's answer
    expect(state('a')).toBe('pending');
    writer.exec('commit');
    expect(state('a')).toBe('success');

    writer.exec('begin immediate');
    writer.prepare("update tasks set state = 'failed' where id = 'a'").run();
    expect(state('a')).toBe('success');
    writer.exec('rollback');
    expect(state('a')).toBe('success');
    const before = reads;
    expect(state('a')).toBe('success');
    expect(reads).toBe(before); // kept again once the transaction has ended
  });

  it('drops every row when another connection commits, and caches again afterwards', () => {
    expect(state('a')).toBe('pending');
    expect(state('b')).toBe('pending');
    commitElsewhere(file, "update tasks set state = 'success' where id = 'b'");
    expect(state('a')).toBe('pending');
    expect(state('b')).toBe('success');
    const before = reads;
    expect(state('b')).toBe('success');
    expect(reads).toBe(before);
  });

  it('does not trust data_version while the writer holds a read snapshot older than a commit', () => {
    expect(state('a')).toBe('pending');
    writer.exec('begin'); // deferred: the first read pins the writer's snapshot
    writer.prepare('select count(*) from tasks').get();
    commitElsewhere(file, "update tasks set state = 'success' where id = 'a'");
    expect(state('a')).toBe('success');
    writer.exec('commit');
    expect(state('a')).toBe('success');
  });

  it('revalidates inside a transaction that holds the write lock, where nobody else can commit', () => {
    expect(state('a')).toBe('pending');
    expect(state('b')).toBe('pending');
    commitElsewhere(file, "update tasks set state = 'success' where id = 'b'");
    writer.exec('begin immediate');
    writeLock = true;
    writer.prepare("update tasks set state = 'processing' where id = 'a'").run();
    expect(state('b')).toBe('success'); // the other connection's commit dropped every kept row
    expect(state('a')).toBe('pending'); // ours is not committed yet
    const before = reads;
    expect(state('b')).toBe('success');
    expect(reads).toBe(before); // kept again within the transaction
    writer.exec('commit');
    writeLock = false;
    expect(state('a')).toBe('processing');
    expect(state('b')).toBe('success');
  });

  it('makes its triggers outside transactions, so a rollback cannot take them away', () => {
    writer.exec('begin immediate');
    writeLock = true;
    expect(state('a')).toBe('pending'); // first use inside a transaction: read, nothing made
    writer.exec('rollback');
    writeLock = false;
    expect(state('a')).toBe('pending');
    writer.prepare("update tasks set state = 'success' where id = 'a'").run();
    expect(state('a')).toBe('success');
  });

  it('follows a rebuild of the table (as a migration does), which drops its triggers', () => {
    expect(state('a')).toBe('pending');
    writer.exec("drop table tasks; create table tasks (id text primary key, state text not null); insert into tasks values ('a', 'failed');");
    expect(state('a')).toBe('failed');
    writer.prepare("update tasks set state = 'success' where id = 'a'").run();
    expect(state('a')).toBe('success');
  });

  it('answers through SQLite when the wal-index cannot be read', () => {
    mkdirSync(join(dir, 'odd.db-shm')); // a directory: opening works, reading fails
    const odd = sqliteTaskReadCache(writer, join(dir, 'odd.db'), read);
    try {
      expect(odd.get('a', SQL, ['a'], asIs)?.[1]).toBe('pending');
      expect(odd.get('a', SQL, ['a'], asIs)?.[1]).toBe('pending');
      expect(reads).toBe(2);
    } finally {
      odd.close();
    }
  });

  it('sees a commit by another process at the next read', () => {
    expect(state('a')).toBe('pending');
    const script = `const D = require('better-sqlite3'); const d = new D(${JSON.stringify(file)}); d.prepare("update tasks set state = 'failed' where id = 'a'").run(); d.close();`;
    const child = spawnSync(process.execPath, ['-e', script], { cwd: process.cwd(), encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    expect(state('a')).toBe('failed');
  });
});

describe('status read through openSqlite', () => {
  let db: Db;
  beforeEach(async () => {
    db = openSqlite(join(dir, 'service.db'));
    await migrateToLatest(db.kysely);
  });
  afterEach(() => db.close());

  it('follows writes made through the group committer, outside it, and through other connections', async () => {
    const accountId = (await createAccount(db, 'acct', 1_000_000, 1000)).id;
    const id = newTaskId(5000);
    const state = () => findTaskStatusNow(db, accountId, id)?.row.state;
    expect(state()).toBeUndefined();
    await db.writeTx((trx) =>
      insertTask(trx, {
        id,
        account_id: accountId,
        api_key_id: 'k',
        model: 'veo-3-1',
        state: 'pending',
        request_type: 'async',
        callback_url: null,
        callback_events: null,
        progress_event_at: null,
        provider: 'auto',
        input: '{}',
        source_task_id: null,
        chain_depth: 0,
        price_micros: 0,
        create_time: 5000,
        start_time: null,
        complete_time: null,
        fail_code: null,
        fail_msg: null,
        attempts: 0,
        run_after: 5000,
        lease_token: null,
        lease_expires_at: null,
        engine: null,
        result_key: null,
        poster_key: null,
        result_size: null,
        result_etag: null,
        duration_ms: null,
        width: null,
        height: null,
        expires_at: null,
        deleted_at: null,
        delete_reason: null,
        progress: null,
      }),
    );
    expect(state()).toBe('pending');
    expect((await claimNextTask(db, 6000, 60_000, 'tok'))?.id).toBe(id); // one statement, outside writeTx
    expect(state()).toBe('processing');
    commitElsewhere(join(dir, 'service.db'), "update tasks set state = 'failed', fail_code = 'TIMEOUT' where id = ?", id);
    expect(findTaskStatusNow(db, accountId, id)?.row).toMatchObject({ state: 'failed', fail_code: 'TIMEOUT' });
    expect(findTaskStatusNow(db, 'another account', id)).toBeUndefined();
    // Kept: the same object while the row is unchanged.
    expect(findTaskStatusNow(db, accountId, id)).toBe(findTaskStatusNow(db, accountId, id));

    const uncached = openSqlite(join(dir, 'service.db'), { taskCache: false }); // LONGSHOT_STATUS_CACHE=off
    try {
      const a = findTaskStatusNow(uncached, accountId, id);
      expect(a?.row.state).toBe('failed');
      expect(findTaskStatusNow(uncached, accountId, id)).not.toBe(a);
    } finally {
      await uncached.close();
    }
  });
});

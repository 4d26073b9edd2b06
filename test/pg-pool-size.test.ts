import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { type Db, openPostgres } from '../src/db/connect.js';
import { available } from './support/requires.js';

/** LONGSHOT_PG_POOL_SIZE: a process opens at most that many pooled connections, however busy. */
const base = process.env.DATABASE_URL;
const opened: Db[] = [];
afterAll(async () => {
  for (const db of opened) await db.close();
});

describe.skipIf(!available('PostgreSQL (DATABASE_URL)', base ? null : 'DATABASE_URL is not set'))(
  'the PostgreSQL pool size (skipped: set DATABASE_URL)',
  () => {
    it('runs 8 concurrent statements on 3 connections when the pool holds 3', async () => {
      const url = new URL(base!);
      const app = `lspool_${Math.random().toString(36).slice(2, 10)}`;
      url.searchParams.set('application_name', app);
      const db = openPostgres(url.toString(), { poolSize: 3 });
      opened.push(db);
      const watcher = openPostgres(base!, { poolSize: 1 });
      opened.push(watcher);
      let done = false;
      const busy = Promise.all(Array.from({ length: 8 }, () => sql`select pg_sleep(0.2)`.execute(db.kysely))).then(() => {
        done = true;
      });
      // Sampled while the 8 run (three rounds of 0.2 s on 3 connections): never more than 3.
      let most = 0;
      while (!done) {
        const n = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where application_name = ${app}`.execute(watcher.kysely);
        most = Math.max(most, n.rows[0]!.n);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(most).toBe(3);
      await busy;
    });
  },
);

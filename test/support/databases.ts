import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPostgres, openSqlite, type Db } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrations.js';

export interface TestDb {
  db: Db;
  drop(): Promise<void>;
}

/**
 * The databases a port suite runs against: SQLite always, PostgreSQL when DATABASE_URL is set
 * (CI sets it). Each PostgreSQL database is a fresh schema, dropped afterwards.
 */
export const DIALECTS: Array<{ name: string; open: () => Promise<TestDb> }> = [
  {
    name: 'sqlite',
    async open() {
      const dir = await mkdtemp(join(tmpdir(), 'longshot-db-'));
      const db = openSqlite(join(dir, 'test.db'));
      await migrateToLatest(db.kysely);
      return { db, drop: async () => { await db.close(); await rm(dir, { recursive: true, force: true }); } };
    },
  },
  ...(process.env.DATABASE_URL
    ? [
        {
          name: 'postgres',
          async open() {
            const base = process.env.DATABASE_URL!;
            const schema = `t_${randomBytes(6).toString('hex')}`;
            const admin = new pg.Client({ connectionString: base });
            await admin.connect();
            await admin.query(`create schema ${schema}`);
            await admin.end();
            const url = new URL(base);
            url.searchParams.set('options', `-c search_path=${schema}`);
            const db = openPostgres(url.toString());
            await migrateToLatest(db.kysely);
            return {
              db,
              drop: async () => {
                await db.close();
                const c = new pg.Client({ connectionString: base });
                await c.connect();
                await c.query(`drop schema ${schema} cascade`);
                await c.end();
              },
            };
          },
        },
      ]
    : []),
];

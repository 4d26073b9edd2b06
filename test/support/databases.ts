import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type Db, openPostgres, openSqlite } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrations.js';
import { available } from './requires.js';

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
      return {
        db,
        drop: async () => {
          await db.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
  ...(available('PostgreSQL (DATABASE_URL)', process.env.DATABASE_URL ? null : 'DATABASE_URL is not set')
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

/** Creates a PostgreSQL schema (if missing) and returns a DATABASE_URL whose search_path is it. */
export async function createPgSchema(base: string, schema: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create schema if not exists ${schema}`);
  await admin.end();
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    },
  };
}

/**
 * What the service-level tests run on: SQLite in the data dir by default; with
 * LONGSHOT_TEST_DATABASE=postgres (and DATABASE_URL) a PostgreSQL schema named after the data
 * dir, so a restart on the same data dir finds the same database.
 */
export async function testDatabaseEnv(dataDir: string): Promise<{ env: Record<string, string>; drop: () => Promise<void> }> {
  if (process.env.LONGSHOT_TEST_DATABASE !== 'postgres') return { env: {}, drop: async () => {} };
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error('LONGSHOT_TEST_DATABASE=postgres needs DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)');
  const schema = `s_${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}`;
  const { url, drop } = await createPgSchema(base, schema);
  return { env: { DATABASE_URL: url }, drop };
}

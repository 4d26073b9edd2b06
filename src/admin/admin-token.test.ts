import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Db, openSqlite } from '../db/connect.js';
import { migrateToLatest } from '../db/migrations.js';
import { loadAdminToken, rotateAdminToken } from './admin-token.js';

let dir = '';
let db: Db;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'longshot-admin-'));
  db = openSqlite(join(dir, 'test.db'));
  await migrateToLatest(db.kysely);
});
afterEach(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the admin token', () => {
  it('is made once at the first start, stored only as a hash, and accepted afterwards', async () => {
    const first = await loadAdminToken(db, null);
    expect(first.created).toMatch(/^lsa_[A-Za-z0-9_-]{43}$/);
    const token = first.created!;
    const stored = await db.kysely.selectFrom('settings').selectAll().execute();
    expect(JSON.stringify(stored)).not.toContain(token);

    const again = await loadAdminToken(db, null);
    expect(again.created).toBeNull();
    expect(again.auth.verify(`Bearer ${token}`)).toBe(true);
    expect(again.auth.verify(`Bearer ${token}x`)).toBe(false);
    expect(again.auth.verify(token)).toBe(false);
    expect(again.auth.verify(undefined)).toBe(false);
    expect(again.auth.verify('Bearer lsk_somethingthatlookslikeanapikeybutisnotit1234567')).toBe(false);
  });

  it('takes the configured token instead, and makes none', async () => {
    const configured = 'a-long-operator-chosen-admin-token-0123456789';
    const loaded = await loadAdminToken(db, configured);
    expect(loaded.created).toBeNull();
    expect(loaded.auth.verify(`Bearer ${configured}`)).toBe(true);
    expect(await db.kysely.selectFrom('settings').selectAll().execute()).toEqual([]);
  });

  it('rotates: the next load accepts only the new token', async () => {
    const old = (await loadAdminToken(db, null)).created!;
    const fresh = await rotateAdminToken(db);
    const loaded = await loadAdminToken(db, null);
    expect(loaded.auth.verify(`Bearer ${fresh}`)).toBe(true);
    expect(loaded.auth.verify(`Bearer ${old}`)).toBe(false);
  });
});

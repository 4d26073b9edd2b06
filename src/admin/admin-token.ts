import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/connect.js';

/**
 * The operator's token for `/admin/v1`, `/console` and `/metrics` (docs/operations.md, admin).
 * Either configured (LONGSHOT_ADMIN_TOKEN) or made once at the first start, printed once beside
 * the first API key, and kept only as its SHA-256 (like API keys). Admin tokens start `lsa_`, so
 * an API key (`lsk_`) is never mistaken for one.
 */
export interface AdminAuth {
  /** Whether `Authorization: Bearer <token>` carries the admin token. */
  verify(authorization: string | undefined): boolean;
}

const SETTING = 'admin_token_sha256';
const TOKEN_SHAPE = /^\S{16,512}$/;

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/** Makes a new admin token: `lsa_` and 256 random bits. */
function newAdminToken(): string {
  return `lsa_${randomBytes(32).toString('base64url')}`;
}

/**
 * The admin token's hash: the configured token's, or the stored one's; when neither exists
 * (the first start on an empty database), a new token is made, its hash stored, and the token
 * returned once in `created`. Several processes starting at once store one token between them.
 */
export async function loadAdminToken(db: Db, configured: string | null): Promise<{ auth: AdminAuth; created: string | null }> {
  if (configured !== null) {
    const hash = sha256(configured);
    return { auth: adminAuth(() => hash), created: null };
  }
  const existing = await storedHash(db);
  if (existing) return { auth: storedAuth(db, existing), created: null };
  const token = newAdminToken();
  await db.writeTx((trx) =>
    trx
      .insertInto('settings')
      .values({ key: SETTING, value: sha256(token).toString('hex') })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute(),
  );
  const winner = (await storedHash(db)) ?? sha256(token);
  // Another process stored its token first: ours was never valid, so it is not shown.
  return { auth: storedAuth(db, winner), created: winner.equals(sha256(token)) ? token : null };
}

/** How long a stored token's hash is trusted before it is read again (a rotation's reach). */
const REFRESH_MS = 5000;

/** The stored token, re-read in the background at most every REFRESH_MS, so a rotation reaches every process. */
function storedAuth(db: Db, initial: Buffer): AdminAuth {
  let hash = initial;
  let readAt = Date.now();
  let reading = false;
  return adminAuth(() => {
    if (!reading && Date.now() - readAt >= REFRESH_MS) {
      reading = true;
      storedHash(db)
        .then((h) => {
          if (h) hash = h;
          readAt = Date.now();
        })
        .catch(() => undefined)
        .finally(() => {
          reading = false;
        });
    }
    return hash;
  });
}

/** Replaces the stored admin token (running processes follow within 5 s); returns the new one, to be shown once. */
export async function rotateAdminToken(db: Db): Promise<string> {
  const token = newAdminToken();
  const value = sha256(token).toString('hex');
  await db.writeTx((trx) =>
    trx
      .insertInto('settings')
      .values({ key: SETTING, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute(),
  );
  return token;
}

async function storedHash(db: Db): Promise<Buffer | null> {
  const row = await db.kysely.selectFrom('settings').select('value').where('key', '=', SETTING).executeTakeFirst();
  return row ? Buffer.from(row.value, 'hex') : null;
}

function adminAuth(current: () => Buffer): AdminAuth {
  return {
    verify(authorization) {
      if (authorization === undefined || !authorization.startsWith('Bearer ')) return false;
      const token = authorization.slice('Bearer '.length).trim();
      if (!TOKEN_SHAPE.test(token)) return false;
      // Constant time: the compared hashes have the same length whatever the guess.
      return timingSafeEqual(sha256(token), current());
    },
  };
}

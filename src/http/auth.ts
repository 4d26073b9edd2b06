import { timingSafeEqual } from 'node:crypto';
import { columnsToSettings, findKeyByHash, hashApiKey } from '../db/accounts-repo.js';
import type { Caller } from '../services/caller.js';
import type { Db } from '../db/connect.js';
import type { Clock } from '../services/deps.js';

/** The authenticated caller: account, key and the key's permissions and limits. */
export type AuthContext = Caller;

export interface Authenticator {
  /**
   * Decides from the cache alone: the caller, null for a refused header, or undefined when the
   * key must be looked up. Synchronous so the hot path needs no promise.
   */
  cached(header: string | undefined): AuthContext | null | undefined;
  /** The caller for an `Authorization` header value, or null for a missing, unknown or revoked key. */
  authenticate(header: string | undefined): Promise<AuthContext | null>;
}

const KEY_SHAPE = /^lsk_[A-Za-z0-9_-]{43}$/;
const MAX_CACHED = 10_000;

/** The key in a well-formed `Bearer` header, or null. */
function bearerKey(header: string | undefined): string | null {
  if (!header) return null;
  const key = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
  return key && KEY_SHAPE.test(key) ? key : null;
}

/**
 * Resolves bearer keys to accounts. Results (including refusals) are cached for `ttlMs` by the
 * exact header value a client sends on every poll, so a revoked key stops working within that
 * time while a hot key costs one map lookup, not a parse, a hash and a query.
 */
export function createAuthenticator(db: Db, clock: Clock, ttlMs = 1000): Authenticator {
  const cache = new Map<string, { ctx: AuthContext | null; until: number }>();
  const cached = (header: string | undefined): AuthContext | null | undefined => {
    if (header === undefined) return null;
    const hit = cache.get(header);
    if (hit && hit.until > clock.now()) return hit.ctx;
    return bearerKey(header) === null ? null : undefined;
  };
  return {
    cached,
    async authenticate(header) {
      const known = cached(header);
      if (known !== undefined) return known;
      const hash = hashApiKey(bearerKey(header)!);
      const row = await findKeyByHash(db, hash);
      // The lookup is by hash of a 256-bit secret; the compare below keeps the final check constant-time too.
      const ok = row !== undefined && row.revoked_at === null && timingSafeEqual(Buffer.from(row.key_hash), Buffer.from(hash));
      const ctx = ok ? { accountId: row.account_id, keyId: row.id, settings: columnsToSettings(row) } : null;
      if (cache.size >= MAX_CACHED) cache.clear();
      cache.set(header!, { ctx, until: clock.now() + ttlMs });
      return ctx;
    },
  };
}

import { timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { columnsToSettings, findKeyByHash, hashApiKey } from '../db/accounts-repo.js';
import type { Db } from '../db/connect.js';
import type { Caller } from '../services/caller.js';
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
/** Keys that exist: as many as are in use at once, with room to spare. */
const MAX_KNOWN = 10_000;
/**
 * Refused keys (unknown or revoked), kept apart so that no number of them can push a known key
 * out. Smaller: a refusal is cached only to spare the database a client that retries a bad key.
 */
const MAX_REFUSED = 1_000;

/** The key in a well-formed `Bearer` header, or null. */
function bearerKey(header: string | undefined): string | null {
  if (!header) return null;
  const key = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
  return key && KEY_SHAPE.test(key) ? key : null;
}

interface Entry<T> {
  ctx: T;
  until: number;
}

/**
 * Resolves bearer keys to accounts. Results (including refusals) are cached for `ttlMs` by the
 * exact header value a client sends on every poll, so a revoked key stops working within that
 * time while a hot key costs one cache lookup, not a parse, a hash and a query. Both caches are
 * bounded and least-recently-used goes first; the freshness is our own (`clock`, which tests
 * move), not the cache library's, so an entry past `ttlMs` is only looked up again, never used.
 */
export function createAuthenticator(db: Db, clock: Clock, ttlMs = 1000): Authenticator {
  const known = new LRUCache<string, Entry<AuthContext>>({ max: MAX_KNOWN });
  const refused = new LRUCache<string, Entry<null>>({ max: MAX_REFUSED });
  // Concurrent misses of one key (many readers when its entry lapses) share one lookup.
  const inFlight = new Map<string, Promise<AuthContext | null>>();

  const cached = (header: string | undefined): AuthContext | null | undefined => {
    if (header === undefined) return null;
    const hit = known.get(header) ?? refused.get(header);
    if (hit && hit.until > clock.now()) return hit.ctx;
    return bearerKey(header) === null ? null : undefined;
  };
  const lookup = async (header: string): Promise<AuthContext | null> => {
    const hash = hashApiKey(bearerKey(header)!);
    const row = await findKeyByHash(db, hash);
    // The lookup is by hash of a 256-bit secret; the compare below keeps the final check constant-time too.
    const ok = row !== undefined && row.revoked_at === null && timingSafeEqual(Buffer.from(row.key_hash), Buffer.from(hash));
    const until = clock.now() + ttlMs;
    if (!ok) {
      known.delete(header);
      refused.set(header, { ctx: null, until });
      return null;
    }
    const ctx = { accountId: row.account_id, keyId: row.id, settings: columnsToSettings(row) };
    refused.delete(header);
    known.set(header, { ctx, until });
    return ctx;
  };
  return {
    cached,
    async authenticate(header) {
      const hit = cached(header);
      if (hit !== undefined) return hit;
      let pending = inFlight.get(header!);
      if (!pending) {
        pending = lookup(header!).finally(() => inFlight.delete(header!));
        inFlight.set(header!, pending);
      }
      return pending;
    },
  };
}

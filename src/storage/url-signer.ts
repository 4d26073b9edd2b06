import { createHmac, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';

/**
 * Signs file paths so a result URL works without an API key for a limited time. The signature
 * covers the path and the expiry, so neither can be changed.
 */
export interface UrlSigner {
  /**
   * `path` (e.g. `/files/results/<id>.mp4`) with the query that makes it valid until at least
   * `expiresAtMs`: the expiry is rounded up to a whole minute, so every read within a minute
   * gets the same URL (players and caches see one resource, and the HMAC is computed once).
   */
  sign(path: string, expiresAtMs: number): string;
  /** 'ok', or why the request must be refused. */
  verify(path: string, expires: string | undefined, sig: string | undefined, nowMs: number): 'ok' | 'expired' | 'invalid';
}

/** The expiry (Unix seconds) of URLs signed to be valid until at least `expiresAtMs`: the next whole minute. */
export const signedExpiry = (expiresAtMs: number): number => Math.ceil(expiresAtMs / 60_000) * 60;

/**
 * Signed URLs remembered (per path, for the current minute); a bound, not a working-set size.
 * The least recently signed goes first, so reads of many other files push out idle paths before
 * the ones being read (a full map that was emptied at once made every read of every path re-sign).
 */
const MAX_REMEMBERED = 20_000;

/** A UrlSigner that also tells whether it remembers a path's URL (for tests and diagnostics). */
export interface RememberingUrlSigner extends UrlSigner {
  remembers(path: string): boolean;
}

export function createUrlSigner(secret: string, maxRemembered = MAX_REMEMBERED): RememberingUrlSigner {
  const mac = (path: string, exp: string): string => createHmac('sha256', secret).update(`${path}\n${exp}`).digest('base64url');
  const remembered = new LRUCache<string, { exp: number; url: string }>({ max: maxRemembered });
  return {
    sign(path, expiresAtMs) {
      const exp = signedExpiry(expiresAtMs);
      const hit = remembered.get(path);
      if (hit?.exp === exp) return hit.url;
      const url = `${path}?expires=${exp}&sig=${mac(path, String(exp))}`;
      remembered.set(path, { exp, url });
      return url;
    },
    remembers: (path) => remembered.has(path),
    verify(path, expires, sig, nowMs) {
      if (!expires || !sig || !/^\d{1,12}$/.test(expires)) return 'invalid';
      const want = Buffer.from(mac(path, expires));
      const got = Buffer.from(sig);
      if (want.length !== got.length || !timingSafeEqual(want, got)) return 'invalid';
      return Number(expires) * 1000 < nowMs ? 'expired' : 'ok';
    },
  };
}

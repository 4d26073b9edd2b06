import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signs file paths so a result URL works without an API key for a limited time. The signature
 * covers the path and the expiry, so neither can be changed.
 */
export interface UrlSigner {
  /** `path` (e.g. `/files/results/<id>.mp4`) with the query that makes it valid until `expiresAtMs`. */
  sign(path: string, expiresAtMs: number): string;
  /** 'ok', or why the request must be refused. */
  verify(path: string, expires: string | undefined, sig: string | undefined, nowMs: number): 'ok' | 'expired' | 'invalid';
}

export function createUrlSigner(secret: string): UrlSigner {
  const mac = (path: string, exp: string): string => createHmac('sha256', secret).update(`${path}\n${exp}`).digest('base64url');
  return {
    sign(path, expiresAtMs) {
      const exp = String(Math.floor(expiresAtMs / 1000));
      return `${path}?expires=${exp}&sig=${mac(path, exp)}`;
    },
    verify(path, expires, sig, nowMs) {
      if (!expires || !sig || !/^\d{1,12}$/.test(expires)) return 'invalid';
      const want = Buffer.from(mac(path, expires));
      const got = Buffer.from(sig);
      if (want.length !== got.length || !timingSafeEqual(want, got)) return 'invalid';
      return Number(expires) * 1000 < nowMs ? 'expired' : 'ok';
    },
  };
}

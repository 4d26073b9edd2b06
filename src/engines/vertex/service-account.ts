import { createPrivateKey, createSign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { AuthError, type GoogleAuth } from '../google-http.js';

/** The parts of a Google service-account key file that the JWT-bearer grant needs. */
export interface ServiceAccount {
  file: string;
  clientEmail: string;
  privateKey: KeyObject;
  privateKeyId: string | null;
  tokenUri: string;
  projectId: string | null;
}

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

/** A key file that cannot be used; the message names the file and what is wrong with it. */
export class ServiceAccountError extends Error {}

/**
 * Reads a service-account key file (the JSON that `gcloud iam service-accounts keys create`
 * writes). Throws a ServiceAccountError naming the file and the problem, so a bad key stops the
 * start instead of failing every task later.
 */
export function loadServiceAccount(file: string): ServiceAccount {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ServiceAccountError(`${file} cannot be read (${code === 'ENOENT' ? 'no such file' : (err as Error).message})`);
  }
  let json: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    json = parsed as Record<string, unknown>;
  } catch {
    throw new ServiceAccountError(`${file} is not a JSON key file`);
  }
  if (json.type !== 'service_account') {
    throw new ServiceAccountError(
      `${file} is not a service-account key (its "type" is ${JSON.stringify(json.type ?? null)}; create one with gcloud iam service-accounts keys create)`,
    );
  }
  const field = (k: string): string => {
    const v = json[k];
    if (typeof v !== 'string' || v.trim() === '') throw new ServiceAccountError(`${file} has no "${k}"`);
    return v.trim();
  };
  const clientEmail = field('client_email');
  const tokenUri = field('token_uri');
  if (!/^https?:\/\//.test(tokenUri)) throw new ServiceAccountError(`${file}: "token_uri" is not an http(s) URL`);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(field('private_key'));
  } catch (err) {
    if (err instanceof ServiceAccountError) throw err;
    throw new ServiceAccountError(`${file}: "private_key" is not a readable PEM private key`);
  }
  if (privateKey.asymmetricKeyType !== 'rsa') throw new ServiceAccountError(`${file}: "private_key" is not an RSA key`);
  return {
    file,
    clientEmail,
    privateKey,
    privateKeyId: typeof json.private_key_id === 'string' ? json.private_key_id : null,
    tokenUri,
    projectId: typeof json.project_id === 'string' ? json.project_id : null,
  };
}

const b64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

/** The signed RS256 assertion of the JWT-bearer grant (developers.google.com/identity/protocols/oauth2/service-account). */
export function signAssertion(sa: ServiceAccount, scope: string, nowMs: number, lifetimeSec = 3600): string {
  const iat = Math.floor(nowMs / 1000);
  const header = { alg: 'RS256', typ: 'JWT', ...(sa.privateKeyId ? { kid: sa.privateKeyId } : {}) };
  const claims = { iss: sa.clientEmail, scope, aud: sa.tokenUri, iat, exp: iat + lifetimeSec };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = createSign('RSA-SHA256').update(input).sign(sa.privateKey);
  return `${input}.${b64url(signature)}`;
}

export interface TokenSourceOptions {
  scope?: string;
  now?: () => number;
  /** Attempts of one token exchange on a network error or 5xx before a call fails. */
  retries?: number;
  retryMs?: number;
}

interface CachedToken {
  value: string;
  /** Refresh from here on (before Google's expiry, so a token never lapses mid-call). */
  refreshAt: number;
}

/**
 * OAuth 2.0 access tokens for a service account, as Vertex AI takes them (`Authorization: Bearer`).
 *
 * Hand-rolled on node:crypto rather than google-auth-library: that library's JWT client posts to
 * a fixed https://oauth2.googleapis.com/token and ignores the key file's `token_uri`, which a
 * private token endpoint (or the test stand-in) needs honoured. The grant itself is one signed
 * JWT and one form POST. Tokens are cached and refreshed a minute before they expire (at 80 %
 * of a lifetime shorter than five minutes); concurrent callers share one exchange; `invalidate` drops the
 * token after a 401.
 */
export function createTokenSource(sa: ServiceAccount, options: TokenSourceOptions = {}): GoogleAuth & { token(signal: AbortSignal): Promise<string> } {
  const scope = options.scope ?? CLOUD_PLATFORM_SCOPE;
  const now = options.now ?? Date.now;
  const retries = options.retries ?? 2;
  const retryMs = options.retryMs ?? 500;
  let cached: CachedToken | null = null;
  let inflight: Promise<CachedToken> | null = null;

  async function exchange(): Promise<CachedToken> {
    let lastError = '';
    let refused = false;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await sleep(retryMs * 2 ** (attempt - 1));
      const issuedAt = now();
      let res: Response;
      try {
        res = await fetch(sa.tokenUri, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: signAssertion(sa, scope, issuedAt) }).toString(),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (err) {
        lastError = `network error: ${(err as Error).message}`;
        continue;
      }
      const text = await res.text();
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // a proxy's HTML page: reported below by status
      }
      if (res.ok && typeof body.access_token === 'string') {
        const lifetimeMs = (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3600) * 1000;
        // A minute before expiry, or at 80 % of a lifetime shorter than five minutes.
        return { value: body.access_token, refreshAt: issuedAt + Math.max(lifetimeMs * 0.8, lifetimeMs - 60_000) };
      }
      lastError = `HTTP ${res.status}${typeof body.error === 'string' ? `: ${body.error}${typeof body.error_description === 'string' ? ` (${body.error_description})` : ''}` : ''}`;
      // A refused grant (bad key, clock skew, disabled account) will not pass on a retry.
      if (res.status < 500 && res.status !== 429) {
        refused = true;
        break;
      }
    }
    throw new AuthError(`the token endpoint ${sa.tokenUri} refused the service account ${sa.clientEmail}: ${lastError}`, refused ? 401 : 0);
  }

  async function token(signal: AbortSignal): Promise<string> {
    signal.throwIfAborted();
    if (cached && now() < cached.refreshAt) return cached.value;
    inflight ??= exchange().finally(() => {
      inflight = null;
    });
    cached = await inflight;
    return cached.value;
  }

  return {
    token,
    async headers(signal) {
      return { authorization: `Bearer ${await token(signal)}` };
    },
    invalidate() {
      cached = null;
    },
  };
}

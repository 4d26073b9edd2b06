import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject, randomBytes, sign, verify } from 'node:crypto';
import { promisify } from 'node:util';

/**
 * Google service-account keys and JWT assertions for tests, with node:crypto only.
 *
 * The flow (developers.google.com/identity/protocols/oauth2/service-account#httprest): the caller
 * signs an RS256 JWT `{iss: client_email, scope, aud: token_uri, iat, exp ≤ iat + 1 h}` with the
 * key file's private key and POSTs it to `token_uri` as
 * `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`.
 * `google-auth-library` always posts to https://oauth2.googleapis.com/token (it ignores the key
 * file's `token_uri`), so tests that point at a fake token endpoint do this themselves.
 */

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

/** The JSON of a key file as the Cloud console downloads it. */
export interface ServiceAccountKey {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  /** PKCS#8 PEM, as Google writes it. */
  private_key: string;
  client_email: string;
  client_id: string;
  auth_uri: string;
  token_uri: string;
  universe_domain: string;
}

export interface ServiceAccount {
  key: ServiceAccountKey;
  /** The public half, to verify assertions with (what Google keeps on its side). */
  publicKey: KeyObject;
}

const generate = promisify(generateKeyPair);

/** A fresh RSA 2048 key pair wrapped as a service-account key file. */
export async function makeServiceAccount(opts: { projectId?: string; clientEmail?: string; tokenUri?: string } = {}): Promise<ServiceAccount> {
  const { privateKey, publicKey } = await generate('rsa', { modulusLength: 2048 });
  const projectId = opts.projectId ?? 'test-project';
  return {
    publicKey,
    key: {
      type: 'service_account',
      project_id: projectId,
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: opts.clientEmail ?? `longshot-test@${projectId}.iam.gserviceaccount.com`,
      client_id: String(BigInt(`0x${randomBytes(9).toString('hex')}`)),
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: opts.tokenUri ?? 'https://oauth2.googleapis.com/token',
      universe_domain: 'googleapis.com',
    },
  };
}

const b64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

/**
 * A compact RS256 JWT over `claims`, signed with the key's private key. `key` is a key file (its
 * `private_key_id` goes in the header as `kid`, like google-auth-library does) or a bare PEM.
 */
export function signAssertion(key: Pick<ServiceAccountKey, 'private_key' | 'private_key_id'> | string, claims: Record<string, unknown>): string {
  const pem = typeof key === 'string' ? key : key.private_key;
  const header: Record<string, string> = { alg: 'RS256', typ: 'JWT' };
  if (typeof key !== 'string') header.kid = key.private_key_id;
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${sign('sha256', Buffer.from(input), createPrivateKey(pem)).toString('base64url')}`;
}

/** The standard claims of an access-token request for `key`, issued now for `lifetimeSeconds`. */
export function assertionClaims(key: ServiceAccountKey, lifetimeSeconds = 3600, scope = CLOUD_PLATFORM_SCOPE): Record<string, unknown> {
  const iat = Math.floor(Date.now() / 1000);
  return { iss: key.client_email, scope, aud: key.token_uri, iat, exp: iat + lifetimeSeconds };
}

/** A JWT's header and claims once its RS256 signature checked out against `publicKey`; else why not. */
export function verifyAssertion(
  jwt: string,
  publicKey: KeyObject | string,
): { ok: true; header: Record<string, unknown>; claims: Record<string, unknown> } | { ok: false; reason: string } {
  const parts = jwt.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'Invalid JWT: not a compact JWS (header.payload.signature)' };
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'Invalid JWT: header or payload is not base64url JSON' };
  }
  if (header.alg !== 'RS256') return { ok: false, reason: `Invalid JWT: alg must be RS256, got ${String(header.alg)}` };
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  const good = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), key, Buffer.from(parts[2]!, 'base64url'));
  // Google's own wording for a bad signature (seen in countless client bug reports).
  if (!good) return { ok: false, reason: 'Invalid JWT Signature.' };
  return { ok: true, header, claims };
}

export interface TokenResponse {
  status: number;
  body: { access_token?: string; expires_in?: number; token_type?: string; error?: string; error_description?: string };
}

/** POSTs an assertion to a token endpoint, the way a service-account client does. */
export async function exchangeAssertion(tokenUri: string, assertion: string, grantType = JWT_BEARER_GRANT): Promise<TokenResponse> {
  const res = await fetch(tokenUri, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: grantType, assertion }).toString(),
  });
  return { status: res.status, body: (await res.json()) as TokenResponse['body'] };
}

/** An access token for `key` from its `token_uri`, with the time it expires (ms since the epoch). */
export async function fetchAccessToken(key: ServiceAccountKey): Promise<{ accessToken: string; expiryDate: number }> {
  const { status, body } = await exchangeAssertion(key.token_uri, signAssertion(key, assertionClaims(key)));
  if (status !== 200 || typeof body.access_token !== 'string') {
    throw new Error(`token endpoint answered ${status}: ${JSON.stringify(body)}`);
  }
  return { accessToken: body.access_token, expiryDate: Date.now() + (body.expires_in ?? 0) * 1000 };
}

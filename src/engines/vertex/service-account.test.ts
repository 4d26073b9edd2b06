import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeVertex, startFakeVertex } from '../../../test/support/fake-vertex.js';
import { makeServiceAccount, type ServiceAccount as TestAccount, verifyAssertion } from '../../../test/support/service-account.js';
import { AuthError } from '../google-http.js';
import { CLOUD_PLATFORM_SCOPE, createTokenSource, loadServiceAccount, ServiceAccountError, signAssertion } from './service-account.js';

let dir: string;
let account: TestAccount;
let fake: FakeVertex;
const signal = new AbortController().signal;

beforeAll(async () => {
  [dir, account, fake] = await Promise.all([
    mkdtemp(join(tmpdir(), 'longshot-sa-test-')),
    makeServiceAccount({ projectId: 'acme', tokenUri: 'https://oauth2.example/token' }),
    startFakeVertex(),
  ]);
});
afterAll(async () => {
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Writes `content` (JSON unless a string) as a key file and returns its path. */
async function keyFile(name: string, content: unknown): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** The thrown ServiceAccountError's message, so each case can check that it names the file. */
function loadError(file: string): string {
  try {
    loadServiceAccount(file);
  } catch (err) {
    expect(err).toBeInstanceOf(ServiceAccountError);
    return (err as Error).message;
  }
  throw new Error(`${file} loaded`);
}

describe('loadServiceAccount', () => {
  it('refuses, naming the file, what cannot be a service-account key', async () => {
    const missing = join(dir, 'missing.json');
    expect(loadError(missing)).toContain(missing);
    expect(loadError(missing)).toMatch(/no such file/);

    const cases: Array<[string, unknown, RegExp]> = [
      ['not-json.json', '{"type": "service_account",', /not a JSON key file/],
      ['array.json', '[]', /not a JSON key file/],
      ['user.json', { type: 'authorized_user', client_id: 'x', client_secret: 'y', refresh_token: 'z' }, /"type" is "authorized_user"/],
      ['no-email.json', { ...account.key, client_email: undefined }, /no "client_email"/],
      ['blank-email.json', { ...account.key, client_email: '  ' }, /no "client_email"/],
      ['not-pem.json', { ...account.key, private_key: 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC' }, /"private_key" is not a readable PEM/],
      ['ftp.json', { ...account.key, token_uri: 'ftp://oauth2.example/token' }, /"token_uri" is not an http/],
    ];
    for (const [name, content, why] of cases) {
      const file = await keyFile(name, content);
      const message = loadError(file);
      expect(message).toContain(file);
      expect(message).toMatch(why);
    }
  });

  it('loads a good key', async () => {
    const file = await keyFile('good.json', account.key);
    const sa = loadServiceAccount(file);
    expect(sa).toMatchObject({
      file,
      clientEmail: account.key.client_email,
      privateKeyId: account.key.private_key_id,
      tokenUri: 'https://oauth2.example/token',
      projectId: 'acme',
    });
    expect(sa.privateKey.asymmetricKeyType).toBe('rsa');
  });
});

describe('signAssertion', () => {
  it('signs an RS256 JWT-bearer assertion that verifies with the public key', async () => {
    const sa = loadServiceAccount(await keyFile('sign.json', account.key));
    const jwt = signAssertion(sa, CLOUD_PLATFORM_SCOPE, 1_700_000_000_999);
    const checked = verifyAssertion(jwt, account.publicKey);
    expect(checked.ok).toBe(true);
    if (!checked.ok) return;
    expect(checked.header).toEqual({ alg: 'RS256', typ: 'JWT', kid: account.key.private_key_id });
    expect(checked.claims).toEqual({
      iss: account.key.client_email,
      aud: 'https://oauth2.example/token',
      scope: CLOUD_PLATFORM_SCOPE,
      iat: 1_700_000_000,
      exp: 1_700_003_600,
    });
    expect(verifyAssertion(signAssertion(sa, 's', 0, 600), account.publicKey)).toMatchObject({ claims: { iat: 0, exp: 600 } });

    // Signed by another key, it does not verify: the check above is not vacuous.
    const other = await makeServiceAccount();
    expect(verifyAssertion(jwt, other.publicKey)).toEqual({ ok: false, reason: 'Invalid JWT Signature.' });
  });
});

describe('createTokenSource against a token endpoint', () => {
  it('caches the token and shares one exchange among concurrent callers', async () => {
    fake.tokenTtlSeconds = 3600;
    const source = createTokenSource(loadServiceAccount(fake.keyFile));
    const before = fake.tokensIssued;
    const tokens = await Promise.all(Array.from({ length: 5 }, () => source.token(signal)));
    expect(fake.tokensIssued - before).toBe(1);
    expect(new Set(tokens).size).toBe(1);
    expect(await source.token(signal)).toBe(tokens[0]);
    expect(await source.headers(signal)).toEqual({ authorization: `Bearer ${tokens[0]}` });
    expect(fake.tokensIssued - before).toBe(1);
  });

  it('refreshes once the clock passes the refresh point', async () => {
    // A 60 s token is refreshed at 80 % of its life. The injected clock moves less than the 60 s
    // of iat skew the endpoint allows, so the new assertion is still accepted.
    fake.tokenTtlSeconds = 60;
    let clock = Date.now();
    const source = createTokenSource(loadServiceAccount(fake.keyFile), { now: () => clock });
    const before = fake.tokensIssued;
    const first = await source.token(signal);
    clock += 47_000;
    expect(await source.token(signal)).toBe(first);
    expect(fake.tokensIssued - before).toBe(1);
    clock += 2_000;
    const second = await source.token(signal);
    expect(second).not.toBe(first);
    expect(fake.tokensIssued - before).toBe(2);
    expect(await source.token(signal)).toBe(second);
  });

  it('fetches a new token after invalidate()', async () => {
    fake.tokenTtlSeconds = 3600;
    const source = createTokenSource(loadServiceAccount(fake.keyFile));
    const before = fake.tokensIssued;
    const first = await source.token(signal);
    source.invalidate?.();
    const second = await source.token(signal);
    expect(second).not.toBe(first);
    expect(fake.tokensIssued - before).toBe(2);
  });

  it('does not start an exchange for an aborted caller', async () => {
    const source = createTokenSource(loadServiceAccount(fake.keyFile));
    const before = fake.tokensIssued;
    await expect(source.token(AbortSignal.abort())).rejects.toThrow();
    expect(fake.tokensIssued).toBe(before);
  });

  it('rejects with AuthError 401 when the endpoint refuses the key', async () => {
    // Same client_email as the fake's account, another key pair: only the signature is wrong.
    const stranger = await makeServiceAccount({ clientEmail: fake.clientEmail, tokenUri: fake.tokenUri });
    const source = createTokenSource(loadServiceAccount(await keyFile('stranger.json', stranger.key)), { retries: 2, retryMs: 1 });
    const err = await source.token(signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect(err).toMatchObject({ status: 401 });
    expect((err as Error).message).toContain('Invalid JWT Signature');
    expect((err as Error).message).toContain(fake.clientEmail);
  });

  it('rejects with AuthError status 0 when the token endpoint cannot be reached', async () => {
    // A port that was just listening and is now closed: connections are refused.
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((r) => server.close(() => r()));
    const tokenUri = `http://127.0.0.1:${port}/token`;
    const file = await keyFile('closed.json', { ...account.key, token_uri: tokenUri });
    const source = createTokenSource(loadServiceAccount(file), { retries: 2, retryMs: 1 });
    const err = await source.token(signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect(err).toMatchObject({ status: 0 });
    expect((err as Error).message).toContain(tokenUri);
    expect((err as Error).message).toMatch(/network error/);
  });

  it('tries a failing network retries + 1 times before giving up', async () => {
    // Each connection is accepted and dropped at once, so the attempts can be counted.
    let attempts = 0;
    const server = createTcpServer((socket) => {
      attempts++;
      socket.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const { port } = server.address() as AddressInfo;
      const file = await keyFile('drop.json', { ...account.key, token_uri: `http://127.0.0.1:${port}/token` });
      const source = createTokenSource(loadServiceAccount(file), { retries: 2, retryMs: 1 });
      await expect(source.token(signal)).rejects.toMatchObject({ status: 0 });
      expect(attempts).toBe(3);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

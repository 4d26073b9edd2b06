import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { available } from '../../test/support/requires.js';
import { checkPublicUrl, defaultLookup, guardedRequest, type LookupFn } from './guarded-http.js';

/** Listens on an ephemeral port of `host` and returns the port. */
function listen(server: net.Server, host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function close(server: net.Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise((resolve) => {
    (server as http.Server).closeAllConnections?.();
    server.close(() => resolve());
  });
}

const PUBLIC_IP = '93.184.215.14'; // never dialled: every test that answers it also answers a private one

/** Names the tests resolve; anything else goes to the OS resolver (so `localhost` is real). */
const fakeLookup: LookupFn = async (host) => {
  switch (host) {
    case 'ten.example':
      return [{ address: '10.0.0.1', family: 4 }];
    case 'loop.example':
      return [{ address: '127.0.0.1', family: 4 }];
    case 'loop6.example':
      return [{ address: '::1', family: 6 }];
    case 'mixed.example':
      return [
        { address: PUBLIC_IP, family: 4 },
        { address: '127.0.0.1', family: 4 },
      ];
    case 'public.example':
      return [{ address: PUBLIC_IP, family: 4 }];
    case 'nxdomain.example':
      throw Object.assign(new Error('getaddrinfo ENOTFOUND nxdomain.example'), { code: 'ENOTFOUND' });
    default:
      return defaultLookup(host);
  }
};

describe('SSRF vectors are refused before any connection', () => {
  // Stands in for an internal service: counts every TCP connection it is offered.
  let connections = 0;
  const trap4 = net.createServer((s) => {
    connections++;
    s.destroy();
  });
  const trap6 = net.createServer((s) => {
    connections++;
    s.destroy();
  });
  let port = 0;
  let haveV6 = false;

  beforeAll(async () => {
    port = await listen(trap4, '127.0.0.1');
    try {
      await listen(trap6, '::1', port);
      haveV6 = true;
    } catch {
      haveV6 = false; // no IPv6 loopback here; the [::1] vectors are still refused by policy
    }
  });
  afterAll(async () => {
    await close(trap4);
    if (haveV6) await close(trap6);
  });

  const vectors = (p: number): string[] => [
    `http://127.0.0.1:${p}/`,
    `https://127.0.0.1:${p}/`,
    `http://localhost:${p}/`,
    `https://localhost:${p}/`,
    `http://[::1]:${p}/`,
    `http://[::]:${p}/`,
    `http://[::ffff:127.0.0.1]:${p}/`,
    `http://[::ffff:7f00:1]:${p}/`,
    `http://[0:0:0:0:0:ffff:7f00:1]:${p}/`,
    `http://2130706433:${p}/`,
    `http://0x7f000001:${p}/`,
    `http://0x7f.1:${p}/`,
    `http://017700000001:${p}/`,
    `http://0177.0.0.1:${p}/`,
    `http://127.1:${p}/`,
    `http://127.0.0.1.:${p}/`,
    `http://0.0.0.0:${p}/`,
    `http://0:${p}/`,
    `http://169.254.169.254/latest/meta-data/`,
    `http://[::ffff:169.254.169.254]/latest/meta-data/`,
    `http://[fe80::1]:${p}/`,
    `http://[64:ff9b::7f00:1]:${p}/`,
    `http://[64:ff9b::127.0.0.1]:${p}/`,
    `http://[2002:7f00:1::]:${p}/`,
    `http://[::7f00:1]:${p}/`,
    `http://[fd00::1]:${p}/`,
    `http://ten.example:${p}/`,
    `http://loop.example:${p}/`,
    `http://loop6.example:${p}/`,
    `https://loop.example:${p}/`,
    `http://mixed.example:${p}/`,
    `http://public.example@127.0.0.1:${p}/`, // userinfo is refused outright
    `file:///etc/passwd`,
    `gopher://127.0.0.1:${p}/_`,
    `ftp://127.0.0.1:${p}/`,
    `not a url`,
  ];

  it('WHATWG URL normalises alternative IPv4 spellings to 127.0.0.1', () => {
    for (const spelling of ['2130706433', '0x7f000001', '0x7f.1', '017700000001', '0177.0.0.1', '127.1']) {
      expect(new URL(`http://${spelling}/`).hostname).toBe('127.0.0.1');
    }
    expect(new URL('http://[::ffff:127.0.0.1]/').hostname).toBe('[::ffff:7f00:1]');
  });

  it('refuses every vector at submit time (checkPublicUrl)', async () => {
    for (const url of vectors(port)) {
      const r = await checkPublicUrl(url, { allowPrivate: false, requireHttps: false, lookup: fakeLookup });
      expect(r, url).toMatchObject({ ok: false });
    }
    expect(connections).toBe(0);
  });

  it('refuses every vector at request time (guardedRequest) with zero connections', async () => {
    for (const url of vectors(port)) {
      const r = await guardedRequest(url, {
        allowPrivate: false,
        requireHttps: false,
        lookup: fakeLookup,
        timeoutMs: 2000,
        maxResponseBytes: 1024,
      });
      expect(r, url).toMatchObject({ ok: false, kind: 'blocked' });
    }
    expect(connections).toBe(0);
  });

  it('refuses a DNS rebinding answer at connect time', async () => {
    let calls = 0;
    const rebinding: LookupFn = async () => {
      calls++;
      return calls === 1 ? [{ address: PUBLIC_IP, family: 4 }] : [{ address: '127.0.0.1', family: 4 }];
    };
    const url = `http://rebind.example:${port}/`;
    const opts = { allowPrivate: false, requireHttps: false, lookup: rebinding };
    expect(await checkPublicUrl(url, opts)).toEqual({ ok: true });
    const r = await guardedRequest(url, { ...opts, timeoutMs: 2000, maxResponseBytes: 1024 });
    expect(r).toMatchObject({ ok: false, kind: 'blocked' });
    expect(r.ok ? '' : r.message).toMatch(/127\.0\.0\.1.*loopback/);
    expect(calls).toBe(2);
    expect(connections).toBe(0);
  });

  it('control: the trap does count a connection when private addresses are allowed', async () => {
    const before = connections;
    const r = await guardedRequest(`http://127.0.0.1:${port}/`, {
      allowPrivate: true,
      requireHttps: false,
      timeoutMs: 2000,
      maxResponseBytes: 1024,
    });
    expect(r.ok).toBe(false);
    expect(connections).toBe(before + 1);
  });
});

describe('checkPublicUrl', () => {
  const base = { allowPrivate: false, requireHttps: true, lookup: fakeLookup };

  it('accepts an https URL whose host resolves only to public addresses, and a public literal', async () => {
    expect(await checkPublicUrl('https://public.example/hook?x=1', base)).toEqual({ ok: true });
    expect(await checkPublicUrl('https://8.8.8.8/hook', base)).toEqual({ ok: true });
    expect(await checkPublicUrl('https://[2001:4860:4860::8888]/hook', base)).toEqual({ ok: true });
  });

  it('refuses http when https is required, unless private addresses are allowed', async () => {
    expect(await checkPublicUrl('http://public.example/hook', base)).toEqual({ ok: false, reason: 'must use https' });
    expect(await checkPublicUrl('http://127.0.0.1:9/hook', { ...base, allowPrivate: true })).toEqual({ ok: true });
    expect(await checkPublicUrl('http://ten.example/hook', { ...base, allowPrivate: true })).toEqual({ ok: true });
  });

  it('refuses an unresolvable host and names the reason', async () => {
    const r = await checkPublicUrl('https://nxdomain.example/', base);
    expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/cannot resolve nxdomain\.example/) });
  });

  it('refuses a host with one public and one private answer', async () => {
    const r = await checkPublicUrl('https://mixed.example/', base);
    expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/127\.0\.0\.1/) });
  });

  it('refuses userinfo and non-http schemes even when private addresses are allowed', async () => {
    const open = { ...base, allowPrivate: true };
    expect(await checkPublicUrl('https://u:p@public.example/', open)).toMatchObject({ ok: false });
    expect(await checkPublicUrl('file:///etc/passwd', open)).toMatchObject({ ok: false });
  });
});

describe('guardedRequest against local servers (private addresses allowed)', () => {
  const seen: { method: string; url: string; ua: string | undefined; body: string }[] = [];
  let targetHits = 0;
  const target = http.createServer((_req, res) => {
    targetHits++;
    res.end('secret');
  });
  const hanging = new Set<net.Socket>();
  let hugeBytesWritten = 0;
  let targetPort = 0;

  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', ua: req.headers['user-agent'], body });
      switch (req.url) {
        case '/ok':
          res.setHeader('X-Test', 'yes');
          res.end('hello');
          return;
        case '/echo':
          res.end(`${req.method} ${req.headers['content-type']} ${body}`);
          return;
        case '/redirect':
          res.writeHead(302, { Location: `http://127.0.0.1:${targetPort}/secret` });
          res.end();
          return;
        case '/never':
          hanging.add(req.socket); // accept, read the request, never answer
          return;
        case '/drip': {
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          const t = setInterval(() => res.write('x'), 50);
          res.on('close', () => clearInterval(t));
          return;
        }
        case '/huge': {
          // An endless chunked body, written as fast as the client reads it.
          res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
          const chunk = Buffer.alloc(64 * 1024, 0x61);
          const pump = (): void => {
            while (!res.destroyed && res.write(chunk)) hugeBytesWritten += chunk.length;
          };
          res.on('drain', pump);
          pump();
          return;
        }
        case '/declared-huge':
          res.writeHead(200, { 'Content-Length': String(1024 * 1024 * 1024) });
          res.write('start');
          return;
        case '/exact':
          res.end(Buffer.alloc(1000, 0x62));
          return;
        default:
          res.statusCode = 404;
          res.end('nope');
      }
    });
  });
  let port = 0;
  const open = { allowPrivate: true, requireHttps: false, timeoutMs: 3000, maxResponseBytes: 1024 * 1024 };

  beforeAll(async () => {
    port = await listen(server, '127.0.0.1');
    targetPort = await listen(target, '127.0.0.1');
  });
  afterAll(async () => {
    for (const s of hanging) s.destroy();
    await close(server);
    await close(target);
  });

  it('returns a 200 body, the peer address and sends the Longshot User-Agent', async () => {
    const r = await guardedRequest(`http://127.0.0.1:${port}/ok`, open);
    expect(r).toMatchObject({ ok: true, status: 200, remoteAddress: '127.0.0.1' });
    if (!r.ok) return;
    expect(r.body.toString()).toBe('hello');
    expect(r.headers['x-test']).toBe('yes');
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/ok', ua: 'Longshot/0.1' });
  });

  it('talks to an IPv6 literal host (brackets stripped for the socket)', async () => {
    const v6 = http.createServer((req, res) => res.end(`v6 ${req.headers.host}`));
    let p6 = 0;
    try {
      p6 = await listen(v6, '::1');
    } catch {
      return; // no IPv6 loopback on this machine
    }
    try {
      const r = await guardedRequest(`http://[::1]:${p6}/`, open);
      expect(r).toMatchObject({ ok: true, status: 200, remoteAddress: '::1' });
      expect(r.ok && r.body.toString()).toBe(`v6 [::1]:${p6}`);
    } finally {
      await close(v6);
    }
  });

  it('POSTs a body with the caller headers', async () => {
    const r = await guardedRequest(`http://127.0.0.1:${port}/echo`, {
      ...open,
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"a":1}',
    });
    expect(r.ok && r.body.toString()).toBe('POST application/json {"a":1}');
  });

  it('dials the address its lookup returned for a name', async () => {
    const r = await guardedRequest(`http://loop.example:${port}/ok`, { ...open, lookup: fakeLookup });
    expect(r).toMatchObject({ ok: true, status: 200, remoteAddress: '127.0.0.1' });
  });

  it('returns a 302 as is and does not follow it', async () => {
    const r = await guardedRequest(`http://127.0.0.1:${port}/redirect`, open);
    expect(r).toMatchObject({ ok: true, status: 302 });
    expect(r.ok && r.headers.location).toBe(`http://127.0.0.1:${targetPort}/secret`);
    expect(targetHits).toBe(0);
  });

  it('gives up at the deadline when the server never answers', async () => {
    const started = Date.now();
    const r = await guardedRequest(`http://127.0.0.1:${port}/never`, { ...open, timeoutMs: 300 });
    const elapsed = Date.now() - started;
    expect(r).toMatchObject({ ok: false, kind: 'timeout' });
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(2500); // generous: proves the deadline, not a benchmark
  });

  it('a slow-drip body cannot hold the caller past the deadline', async () => {
    const started = Date.now();
    const r = await guardedRequest(`http://127.0.0.1:${port}/drip`, { ...open, timeoutMs: 400 });
    expect(r).toMatchObject({ ok: false, kind: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('stops reading an endless body past maxResponseBytes', async () => {
    const r = await guardedRequest(`http://127.0.0.1:${port}/huge`, { ...open, maxResponseBytes: 256 * 1024 });
    expect(r).toMatchObject({ ok: false, kind: 'too_large' });
    // The body is endless, so returning at all shows it was not buffered whole.
    expect(hugeBytesWritten).toBeLessThan(64 * 1024 * 1024);
  });

  it('refuses a declared Content-Length over the limit without waiting for the body', async () => {
    const r = await guardedRequest(`http://127.0.0.1:${port}/declared-huge`, { ...open, maxResponseBytes: 1024 });
    expect(r).toMatchObject({ ok: false, kind: 'too_large' });
  });

  it('accepts a body of exactly maxResponseBytes', async () => {
    const r = await guardedRequest(`http://127.0.0.1:${port}/exact`, { ...open, maxResponseBytes: 1000 });
    expect(r.ok && r.body.length).toBe(1000);
  });

  it('streams a body to a file when asked, and removes the file when the body is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'guarded-file-'));
    try {
      const path = join(dir, 'body.bin');
      const r = await guardedRequest(`http://127.0.0.1:${port}/exact`, { ...open, maxResponseBytes: 1000, toFile: path });
      expect(r).toMatchObject({ ok: true, status: 200 });
      expect(r.ok && r.body.length).toBe(0);
      expect(readFileSync(path)).toEqual(Buffer.alloc(1000, 0x62));

      const big = join(dir, 'huge.bin');
      const refused = await guardedRequest(`http://127.0.0.1:${port}/huge`, { ...open, maxResponseBytes: 256 * 1024, toFile: big });
      expect(refused).toMatchObject({ ok: false, kind: 'too_large' });
      expect(existsSync(big)).toBe(false);

      // An error status is answered in memory, and no file is made for it.
      const missing = join(dir, 'missing.bin');
      const notFound = await guardedRequest(`http://127.0.0.1:${port}/nothing-here`, { ...open, toFile: missing });
      expect(notFound.ok && [notFound.status, notFound.body.toString()]).toEqual([404, 'nope']);
      expect(existsSync(missing)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports dns, connect and aborted failures as values', async () => {
    const dns = await guardedRequest('http://nxdomain.example/', { ...open, lookup: fakeLookup });
    expect(dns).toMatchObject({ ok: false, kind: 'dns' });

    const closed = net.createServer();
    const closedPort = await listen(closed, '127.0.0.1');
    await close(closed);
    const refused = await guardedRequest(`http://127.0.0.1:${closedPort}/`, open);
    expect(refused).toMatchObject({ ok: false, kind: 'connect' });

    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const aborted = await guardedRequest(`http://127.0.0.1:${port}/never`, { ...open, signal: ac.signal });
    expect(aborted).toMatchObject({ ok: false, kind: 'aborted' });
  });
});

const haveOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!available('openssl', haveOpenssl ? null : 'no openssl on PATH'))('guardedRequest over https (self-signed cert made with openssl)', () => {
  let dir = '';
  let cert = '';
  let server: https.Server | undefined;
  let port = 0;
  const plain = http.createServer((_req, res) => res.end('plain'));
  let plainPort = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'longshot-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (_req, res) => res.end('secure'));
    port = await listen(server, '127.0.0.1');
    plainPort = await listen(plain, '127.0.0.1');
  });
  afterAll(async () => {
    await close(server);
    await close(plain);
    rmSync(dir, { recursive: true, force: true });
  });

  const open = { allowPrivate: true, requireHttps: true, timeoutMs: 3000, maxResponseBytes: 1024 };

  it('talks https to a trusted certificate, by IP and by name', async () => {
    const byIp = await guardedRequest(`https://127.0.0.1:${port}/`, { ...open, tls: { ca: cert } });
    expect(byIp.ok && byIp.body.toString()).toBe('secure');
    const byName = await guardedRequest(`https://localhost:${port}/`, { ...open, tls: { ca: cert }, lookup: fakeLookup });
    expect(byName.ok && byName.body.toString()).toBe('secure');
  });

  it('reports an untrusted certificate and a non-TLS peer as tls failures', async () => {
    const untrusted = await guardedRequest(`https://127.0.0.1:${port}/`, open);
    expect(untrusted).toMatchObject({ ok: false, kind: 'tls' });
    const notTls = await guardedRequest(`https://127.0.0.1:${plainPort}/`, open);
    expect(notTls).toMatchObject({ ok: false, kind: 'tls' });
  });
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A self-signed certificate for 127.0.0.1, localhost and hooks.example, made with openssl once. */
let made: { key: string; cert: string } | null = null;
function testCertificate(): { key: string; cert: string } {
  if (made) return made;
  const dir = mkdtempSync(join(tmpdir(), 'longshot-hooks-tls-'));
  try {
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
        'subjectAltName=DNS:localhost,DNS:hooks.example,IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    made = { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
    return made;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the receiver answers: a status (with headers), or `hang` to never answer. */
type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

export interface Receiver {
  /** https://127.0.0.1:PORT */
  url: string;
  port: number;
  /** The certificate to trust (the sender's `ca`). */
  ca: string;
  received: Received[];
  /** Decides each answer; the default answers 200. Replace it per test. */
  answer: (r: Received) => Answer;
  /** Answers these in order, then 200. */
  script(...answers: Answer[]): void;
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** A real HTTPS webhook receiver on loopback that records every request. */
export async function startReceiver(): Promise<Receiver> {
  const { key, cert } = testCertificate();
  const r: Receiver = {
    url: '',
    port: 0,
    ca: cert,
    received: [],
    answer: () => ({ status: 200 }),
    script(...answers) {
      const queue = [...answers];
      r.answer = () => queue.shift() ?? { status: 200 };
    },
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (r.received.length < count) {
        if (Date.now() > deadline) throw new Error(`receiver got ${r.received.length} of ${count} requests within ${timeoutMs} ms`);
        await new Promise((res) => setTimeout(res, 20));
      }
      return r.received;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = https.createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const got: Received = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      r.received.push(got);
      const a = r.answer(got);
      if (a === 'hang') return;
      res.writeHead(a.status, a.headers ?? {});
      res.end(a.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.port = (server.address() as AddressInfo).port;
  r.url = `https://127.0.0.1:${r.port}`;
  return r;
}

/**
 * An HTTP(S) client that only talks to public addresses (the SSRF guard for callbacks and image
 * URLs). The address check happens twice: once at submit (`checkPublicUrl`) and again inside the
 * socket's own DNS lookup (`guardedRequest`), so the address actually dialled is the address
 * judged and a DNS answer that changes between the two (rebinding) is caught. Redirects are
 * never followed. See docs/network-guard.md.
 */
import { promises as dns } from 'node:dns';
import { createWriteStream, rmSync, type WriteStream } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { classifyAddress } from './ip-policy.js';

/** Resolves a host name to all of its addresses. Injected in tests; defaults to the OS resolver. */
export type LookupFn = (hostname: string) => Promise<{ address: string; family: 4 | 6 }[]>;

/** The OS resolver (getaddrinfo, honours /etc/hosts), every address, in the resolver's order. */
export const defaultLookup: LookupFn = async (hostname) => {
  const answers = await dns.lookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

const USER_AGENT = 'Longshot/0.1';

export interface UrlPolicy {
  /** Operator switch for local development: allows http and private addresses. */
  allowPrivate: boolean;
  /** Refuse `http:` (ignored when `allowPrivate`). */
  requireHttps: boolean;
  lookup?: LookupFn;
}

interface ParsedTarget {
  url: URL;
  /** Host without URL brackets, as given to the resolver or the socket. */
  host: string;
  /** 4 or 6 for an IP literal host, 0 for a name. */
  literal: 0 | 4 | 6;
}

/**
 * Static checks that need no DNS: a WHATWG-parseable absolute URL (which also normalises
 * decimal/hex/octal/short IPv4 spellings to a dotted quad), http(s) only, https when required,
 * no userinfo, and an IP-literal host judged directly.
 */
function parseTarget(
  raw: string,
  policy: Pick<UrlPolicy, 'allowPrivate' | 'requireHttps'>,
): { ok: true; target: ParsedTarget } | { ok: false; reason: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'not an absolute URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, reason: `scheme ${url.protocol.replace(/:$/, '')} is not allowed (http or https only)` };
  }
  if (url.protocol === 'http:' && policy.requireHttps && !policy.allowPrivate) {
    return { ok: false, reason: 'must use https' };
  }
  // Credentials in a URL end up in task rows and logs, and userinfo is a classic vehicle for
  // parser-confusion tricks (`http://public.example@127.0.0.1/`); refuse it outright.
  if (url.username !== '' || url.password !== '') {
    return { ok: false, reason: 'user info (user:password@) is not allowed in the URL' };
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (host === '') return { ok: false, reason: 'URL has no host' };
  const family = isIP(host);
  const literal: 0 | 4 | 6 = family === 4 ? 4 : family === 6 ? 6 : 0;
  if (literal !== 0 && !policy.allowPrivate) {
    const verdict = classifyAddress(host);
    if (!verdict.public) return { ok: false, reason: `address ${host} is not public: ${verdict.reason}` };
  }
  return { ok: true, target: { url, host, literal } };
}

/** The first refusal among resolved addresses, or null when every one is public. */
function firstRefusal(host: string, addresses: readonly { address: string }[]): string | null {
  if (addresses.length === 0) return `${host} resolved to no address`;
  for (const a of addresses) {
    const v = classifyAddress(a.address);
    if (!v.public) return `${host} resolves to ${a.address}, which is not public: ${v.reason}`;
  }
  return null;
}

/**
 * Submit-time check of a URL. Every address the host resolves to must be public (a host with
 * one public and one private answer is refused). With `allowPrivate` no DNS lookup is made.
 * An unresolvable host is refused. `timeoutMs` bounds the lookup (default 5 s).
 */
export async function checkPublicUrl(url: string, opts: UrlPolicy & { timeoutMs?: number }): Promise<{ ok: true } | { ok: false; reason: string }> {
  const parsed = parseTarget(url, opts);
  if (!parsed.ok) return parsed;
  const { host, literal } = parsed.target;
  if (opts.allowPrivate || literal !== 0) return { ok: true };
  const lookup = opts.lookup ?? defaultLookup;
  let timer: NodeJS.Timeout | undefined;
  try {
    const answers = await Promise.race([
      lookup(host),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('lookup timed out')), opts.timeoutMs ?? 5000);
      }),
    ]);
    const refusal = firstRefusal(host, answers);
    return refusal === null ? { ok: true } : { ok: false, reason: refusal };
  } catch (err) {
    return { ok: false, reason: `cannot resolve ${host}: ${(err as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}

export type GuardedFailureKind = 'blocked' | 'dns' | 'connect' | 'timeout' | 'too_large' | 'tls' | 'protocol' | 'aborted';

export interface GuardedRequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'HEAD';
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** One deadline for lookup + connect + TLS + headers + body. */
  timeoutMs: number;
  /** A body longer than this is refused (`too_large`); the socket is destroyed at once. */
  maxResponseBytes: number;
  allowPrivate: boolean;
  requireHttps: boolean;
  signal?: AbortSignal;
  lookup?: LookupFn;
  /** Extra trust anchors (tests, private CAs). */
  tls?: { ca?: string | Buffer };
  /**
   * Write a 2xx body to this file as it arrives instead of holding it in memory (videos); the
   * response's `body` is then empty. A failed or refused transfer removes the file.
   */
  toFile?: string;
}

export interface GuardedResponse {
  ok: true;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The peer address actually connected to. */
  remoteAddress: string;
}

export interface GuardedFailure {
  ok: false;
  kind: GuardedFailureKind;
  message: string;
}

const BLOCKED = 'ELONGSHOT_BLOCKED';
const DNS_FAILED = 'ELONGSHOT_DNS';

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'ENODATA', 'ESERVFAIL', 'EREFUSED']);
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'EPROTO',
]);

function errorCode(err: unknown): string {
  const e = err as { code?: unknown; errors?: unknown[] };
  if (typeof e?.code === 'string') return e.code;
  // Happy-eyeballs connects to several addresses and reports an AggregateError when all fail.
  const first = Array.isArray(e?.errors) ? (e.errors[0] as { code?: unknown }) : undefined;
  return typeof first?.code === 'string' ? first.code : '';
}

function classifyError(err: unknown, secure: boolean, gotResponse: boolean): GuardedFailureKind {
  const code = errorCode(err);
  if (code === BLOCKED) return 'blocked';
  if (code === DNS_FAILED || DNS_CODES.has(code)) return 'dns';
  if (secure && (TLS_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code.includes('CERT'))) {
    return 'tls';
  }
  if (code.startsWith('HPE_') || gotResponse) return 'protocol';
  return 'connect';
}

function codedError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * One HTTP request to a public address. Never throws for network outcomes: every failure is a
 * value with a `kind`. A 3xx is returned as a normal response (redirects are never followed).
 */
export function guardedRequest(rawUrl: string, opts: GuardedRequestOptions): Promise<GuardedResponse | GuardedFailure> {
  const parsed = parseTarget(rawUrl, opts);
  if (!parsed.ok) return Promise.resolve({ ok: false, kind: 'blocked', message: parsed.reason });
  if (opts.signal?.aborted) return Promise.resolve({ ok: false, kind: 'aborted', message: 'aborted before start' });
  const { url, host } = parsed.target;
  const secure = url.protocol === 'https:';
  const resolve = opts.lookup ?? defaultLookup;

  return new Promise((done) => {
    let settled = false;
    let gotResponse = false;
    let remoteAddress = '';
    let req: http.ClientRequest | undefined;

    let file: WriteStream | null = null;
    const finish = (result: GuardedResponse | GuardedFailure): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      opts.signal?.removeEventListener('abort', onAbort);
      if (!result.ok) req?.destroy();
      if (file === null) {
        done(result);
        return;
      }
      // The answer waits until the file is complete on disk (or removed after a failure).
      const f = file;
      if (result.ok) f.end(() => done(result));
      else {
        f.destroy();
        f.once('close', () => {
          rmSync(opts.toFile!, { force: true });
          done(result);
        });
      }
    };
    const fail = (kind: GuardedFailureKind, message: string): void => finish({ ok: false, kind, message });
    const onAbort = (): void => fail('aborted', 'aborted by caller');
    const deadline = setTimeout(() => fail('timeout', `no complete response within ${opts.timeoutMs} ms`), opts.timeoutMs);
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    // Called by the socket for a host name (node skips it for IP literals, which parseTarget
    // has already judged). Every answer must be public; the socket dials only these answers.
    const guardedLookup: LookupFunction = (hostname, options, callback) => {
      const cb = callback as (err: Error | null, address?: unknown, family?: number) => void;
      resolve(hostname).then(
        (answers) => {
          const wanted = options.family === 4 || options.family === 6 ? answers.filter((a) => a.family === options.family) : answers;
          const refusal = opts.allowPrivate ? (wanted.length === 0 ? `${hostname} resolved to no address` : null) : firstRefusal(hostname, wanted);
          if (refusal !== null) {
            cb(codedError(wanted.length === 0 ? DNS_FAILED : BLOCKED, refusal));
          } else if (options.all) {
            cb(null, wanted);
          } else {
            const first = wanted[0]!;
            cb(null, first.address, first.family);
          }
        },
        (err: unknown) => cb(codedError(DNS_FAILED, `cannot resolve ${hostname}: ${(err as Error).message}`)),
      );
    };

    const headers: Record<string, string | number> = { 'User-Agent': USER_AGENT, ...opts.headers };
    if (opts.body !== undefined) headers['Content-Length'] = Buffer.byteLength(opts.body);
    const requestOptions: https.RequestOptions = {
      protocol: url.protocol,
      hostname: host,
      port: url.port === '' ? undefined : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: opts.method ?? 'GET',
      headers,
      agent: false, // a fresh connection per request: no pooled socket to another host's address
      lookup: guardedLookup,
      ...(secure && opts.tls?.ca !== undefined ? { ca: opts.tls.ca } : {}),
    };

    try {
      req = (secure ? https : http).request(requestOptions);
    } catch (err) {
      fail('protocol', (err as Error).message);
      return;
    }

    req.on('socket', (socket) => {
      socket.once('connect', () => {
        remoteAddress = socket.remoteAddress ?? '';
        // Defence in depth: the lookup above is the real gate (it runs before the SYN). Should any
        // path ever dial without it, judge the peer actually connected to and drop the socket.
        if (!opts.allowPrivate) {
          const v = classifyAddress(remoteAddress);
          if (!v.public) fail('blocked', `connected peer ${remoteAddress} is not public: ${v.reason}`);
        }
      });
    });

    req.on('error', (err) => fail(classifyError(err, secure, gotResponse), err.message));

    req.on('response', (res) => {
      gotResponse = true;
      remoteAddress = res.socket?.remoteAddress ?? remoteAddress;
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      const declared = Number(res.headers['content-length']);
      if (opts.method !== 'HEAD' && Number.isFinite(declared) && declared > opts.maxResponseBytes) {
        fail('too_large', `Content-Length ${declared} exceeds the limit of ${opts.maxResponseBytes} bytes`);
        return;
      }
      const stream = opts.toFile !== undefined && status >= 200 && status < 300;
      if (stream) {
        file = createWriteStream(opts.toFile!);
        file.on('error', (err) => fail('protocol', `cannot write ${opts.toFile}: ${err.message}`));
      }
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > opts.maxResponseBytes) {
          fail('too_large', `response body exceeds the limit of ${opts.maxResponseBytes} bytes`);
          return;
        }
        if (file !== null) {
          // Back-pressure: a slow disk pauses the socket rather than filling memory.
          if (!file.write(chunk)) {
            res.pause();
            file.once('drain', () => res.resume());
          }
        } else chunks.push(chunk);
      });
      res.on('error', (err) => fail('protocol', `response interrupted: ${err.message}`));
      res.on('end', () =>
        finish({ ok: true, status, headers: { ...res.headers }, body: file !== null ? Buffer.alloc(0) : Buffer.concat(chunks, size), remoteAddress }),
      );
      res.on('close', () => {
        if (!res.complete) fail('protocol', 'connection closed before the response was complete');
      });
    });

    req.end(opts.body);
  });
}

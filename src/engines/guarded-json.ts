import { setTimeout as sleep } from 'node:timers/promises';
import { retryAfterMs } from '../domain/retry-after.js';
import { guardedRequest, type LookupFn } from '../net/guarded-http.js';
import { type HttpAnswer, isTransient } from './google-http.js';

/** A partner's JSON API, reached through the network guard (apixo, fal). */
export interface JsonTarget {
  baseUrl: string;
  /** The `Authorization` header: `Bearer <key>` (APIXO), `Key <key>` (fal); none for an open ComfyUI. */
  authorization?: string;
  /** The operator trusts a private or loopback upstream (otherwise public addresses only). */
  allowPrivate: boolean;
  retries: number;
  retryMs: number;
  /** Tests resolve names their own way. */
  lookup?: LookupFn;
}

const MAX_RETRY_MS = 60_000;
const CALL_TIMEOUT_MS = 60_000;
/** A JSON answer of the API is small; anything bigger is not one. */
const MAX_JSON_BYTES = 1024 * 1024;

/**
 * One call of a partner's API through the network guard (the upstream is configured, but a
 * DNS answer that turns private must not reach this gateway's own network unless the operator
 * allowed it), retried with backoff on 429, 5xx and network errors, honouring `Retry-After`.
 * `Idempotency-Key` makes a retried submit safe on an upstream that supports it (Longshot does).
 */
export async function callJson(
  t: JsonTarget,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  signal: AbortSignal,
  opts: { json?: unknown; idempotencyKey?: string } = {},
): Promise<HttpAnswer> {
  let answer: HttpAnswer = { status: 0, body: null };
  for (let attempt = 0; ; attempt++) {
    signal.throwIfAborted();
    const res = await guardedRequest(t.baseUrl + path, {
      method,
      headers: {
        ...(t.authorization ? { authorization: t.authorization } : {}),
        accept: 'application/json',
        ...(opts.json !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : {}),
      },
      body: opts.json !== undefined ? JSON.stringify(opts.json) : undefined,
      timeoutMs: CALL_TIMEOUT_MS,
      maxResponseBytes: MAX_JSON_BYTES,
      allowPrivate: t.allowPrivate,
      requireHttps: false,
      signal,
      ...(t.lookup ? { lookup: t.lookup } : {}),
    });
    if (!res.ok) {
      if (signal.aborted) signal.throwIfAborted();
      // A refused address is the operator's configuration, not a passing fault: no retry.
      answer = { status: res.kind === 'blocked' ? -1 : 0, body: null, error: res.message };
      if (res.kind === 'blocked') return answer;
    } else {
      let body: unknown = res.body.toString('utf8');
      try {
        body = JSON.parse(body as string);
      } catch {
        // keep the text: a proxy's HTML page, say
      }
      answer = { status: res.status, body };
      const ra = retryAfterMs(headerOf(res.headers['retry-after']));
      if (ra !== null) answer.retryAfterMs = ra;
    }
    if (!isTransient(answer.status) || attempt >= t.retries) return answer;
    const backoff = Math.min(MAX_RETRY_MS, t.retryMs * 2 ** attempt);
    await sleep(Math.min(MAX_RETRY_MS, Math.max(backoff, answer.retryAfterMs ?? 0)), undefined, { signal });
  }
}

const headerOf = (v: string | string[] | undefined): string | null => (Array.isArray(v) ? (v[0] ?? null) : (v ?? null));

/** The upstream's error sentence: APIXO's envelope `{code, message, data: {error}}`, fal's `detail`, else a short text. */
export function partnerMessage(answer: HttpAnswer): string {
  if (answer.status === 0) return `network error: ${answer.error ?? 'unknown'}`;
  if (answer.status === -1) return `refused by the network guard: ${answer.error ?? ''}`;
  const b = answer.body as { message?: unknown; detail?: unknown; data?: { error?: unknown } } | null;
  const detail =
    typeof b?.data?.error === 'string'
      ? b.data.error
      : typeof b?.message === 'string'
        ? b.message
        : typeof b?.detail === 'string'
          ? b.detail
          : Array.isArray(b?.detail)
            ? b.detail
                .map((d: { msg?: unknown }) => (typeof d?.msg === 'string' ? d.msg : ''))
                .filter(Boolean)
                .join('; ')
            : typeof answer.body === 'string'
              ? answer.body.slice(0, 200)
              : '';
  return `HTTP ${answer.status}${detail ? `: ${detail}` : ''}`;
}

import { setTimeout as sleep } from 'node:timers/promises';
import { retryAfterMs } from '../domain/retry-after.js';

// guarded-json.ts still imports it from here.

/** How a Google API call authenticates: a fixed key header (Gemini API) or a bearer token (Vertex AI). */
export interface GoogleAuth {
  headers(signal: AbortSignal): Promise<Record<string, string>>;
  /** Drops a cached credential after a 401, so the next `headers` fetches a new one. */
  invalidate?(): void;
}

/**
 * A credential could not be had: `status` 401 when the issuer refused it (a bad or disabled key:
 * retrying will not help), 0 when the issuer could not be reached.
 */
export class AuthError extends Error {
  constructor(
    message: string,
    readonly status: 0 | 401,
  ) {
    super(message);
  }
}

/** How to reach one Google endpoint and how hard to retry it. */
export interface GoogleHttp {
  baseUrl: string;
  auth: GoogleAuth;
  /** Retries of one call on 429, 5xx and network errors. */
  retries: number;
  /** First retry delay; doubles per retry, capped at 60 s; a `Retry-After` is honoured (capped too). */
  retryMs: number;
}

/** The last answer of a call (after retries), or `status: 0` when the network failed every time. */
export interface HttpAnswer {
  status: number;
  body: unknown;
  /** For status 0: the network error. */
  error?: string;
  response?: Response;
  /** The answer's `Retry-After`, in ms, when it sent one. */
  retryAfterMs?: number;
}

const MAX_RETRY_MS = 60_000;

/** Whether another try of the same call may get another answer. */
export function isTransient(status: number): boolean {
  return status === 0 || status === 429 || status >= 500;
}

/**
 * One Google REST call, retried with backoff while the answer is transient. A 401 drops the
 * cached credential and tries once more with a fresh one (an access token can expire between
 * our check and Google's). JSON bodies are parsed; with `raw` the successful `Response` is
 * returned unread (downloads). Rejects only when `signal` fires.
 */
export async function callGoogle(
  http: GoogleHttp,
  method: 'GET' | 'POST',
  pathAndQuery: string,
  signal: AbortSignal,
  opts: { json?: unknown; raw?: boolean } = {},
): Promise<HttpAnswer> {
  let answer: HttpAnswer = { status: 0, body: null };
  let refreshed = false;
  for (let attempt = 0; ; attempt++) {
    signal.throwIfAborted();
    const auth = await authHeaders(http.auth, signal);
    if ('failed' in auth) {
      // A refused credential is final; an unreachable issuer is retried like any network error.
      if (auth.failed.status === 401) return auth.failed;
      answer = auth.failed;
    } else {
      try {
        const res = await fetch(http.baseUrl + pathAndQuery, {
          method,
          headers: { ...auth.headers, ...(opts.json !== undefined ? { 'content-type': 'application/json' } : {}) },
          body: opts.json !== undefined ? JSON.stringify(opts.json) : undefined,
          redirect: 'follow',
          signal,
        });
        if (opts.raw && res.ok) return { status: res.status, body: null, response: res };
        answer = { status: res.status, body: await readBody(res) };
        const ra = retryAfterMs(res.headers.get('retry-after'));
        if (ra !== null) answer.retryAfterMs = ra;
      } catch (err) {
        if (signal.aborted) throw err;
        answer = { status: 0, body: null, error: err instanceof Error ? err.message : String(err) };
      }
      if (answer.status === 401 && http.auth.invalidate && !refreshed) {
        refreshed = true;
        http.auth.invalidate();
        attempt--;
        continue;
      }
    }
    if (!isTransient(answer.status) || attempt >= http.retries) return answer;
    const backoff = Math.min(MAX_RETRY_MS, http.retryMs * 2 ** attempt);
    await sleep(Math.min(MAX_RETRY_MS, Math.max(backoff, answer.retryAfterMs ?? 0)), undefined, { signal });
  }
}

/** The credential headers, or the answer to give when none could be had. */
async function authHeaders(auth: GoogleAuth, signal: AbortSignal): Promise<{ headers: Record<string, string> } | { failed: HttpAnswer }> {
  try {
    return { headers: await auth.headers(signal) };
  } catch (err) {
    if (!(err instanceof AuthError) || signal.aborted) throw err;
    return { failed: { status: err.status, body: { error: { message: err.message } }, error: err.message } };
  }
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return text.length > 0 ? JSON.parse(text) : null;
  } catch {
    return text; // an HTML error page from a proxy, say
  }
}

/** Google's error sentence from an error body (`{error: {code, message, status}}`), else a short text. */
export function errorMessage(answer: HttpAnswer): string {
  if (answer.status === 0) return `network error: ${answer.error ?? 'unknown'}`;
  const b = answer.body as { error?: { message?: unknown; status?: unknown } } | null;
  const msg = typeof b?.error?.message === 'string' ? b.error.message : typeof answer.body === 'string' ? answer.body.slice(0, 200) : '';
  return `HTTP ${answer.status}${msg ? `: ${msg}` : ''}`;
}

/** A fixed API key header, as the Gemini API takes it. */
export function apiKeyAuth(apiKey: string): GoogleAuth {
  const headers = { 'x-goog-api-key': apiKey };
  return { headers: async () => headers };
}

import { setTimeout as sleep } from 'node:timers/promises';

/** How to reach one Gemini API endpoint and how hard to retry it. */
export interface GeminiHttp {
  baseUrl: string;
  apiKey: string;
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
}

const MAX_RETRY_MS = 60_000;

/** Whether another try of the same call may get another answer. */
export function isTransient(status: number): boolean {
  return status === 0 || status === 429 || status >= 500;
}

/**
 * One Gemini REST call with `x-goog-api-key`, retried with backoff while the answer is transient.
 * JSON bodies are parsed; with `raw` the successful `Response` is returned unread (downloads).
 * Rejects only when `signal` fires.
 */
export async function callGemini(
  http: GeminiHttp, method: 'GET' | 'POST', pathAndQuery: string, signal: AbortSignal, opts: { json?: unknown; raw?: boolean } = {},
): Promise<HttpAnswer> {
  let answer: HttpAnswer = { status: 0, body: null };
  for (let attempt = 0; ; attempt++) {
    signal.throwIfAborted();
    let retryAfterMs: number | null = null;
    try {
      const res = await fetch(http.baseUrl + pathAndQuery, {
        method,
        headers: { 'x-goog-api-key': http.apiKey, ...(opts.json !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: opts.json !== undefined ? JSON.stringify(opts.json) : undefined,
        redirect: 'follow',
        signal,
      });
      if (opts.raw && res.ok) return { status: res.status, body: null, response: res };
      const text = await res.text();
      let body: unknown = text;
      try {
        body = text.length > 0 ? JSON.parse(text) : null;
      } catch {
        // keep the text: an HTML error page from a proxy, say
      }
      answer = { status: res.status, body };
      const ra = Number(res.headers.get('retry-after'));
      if (Number.isFinite(ra) && ra > 0) retryAfterMs = ra * 1000;
    } catch (err) {
      if (signal.aborted) throw err;
      answer = { status: 0, body: null, error: err instanceof Error ? err.message : String(err) };
    }
    if (!isTransient(answer.status) || attempt >= http.retries) return answer;
    const backoff = Math.min(MAX_RETRY_MS, http.retryMs * 2 ** attempt);
    await sleep(Math.min(MAX_RETRY_MS, Math.max(backoff, retryAfterMs ?? 0)), undefined, { signal });
  }
}

/** Google's error sentence from an error body (`{error: {code, message, status}}`), else a short text. */
export function errorMessage(answer: HttpAnswer): string {
  if (answer.status === 0) return `network error: ${answer.error ?? 'unknown'}`;
  const b = answer.body as { error?: { message?: unknown; status?: unknown } } | null;
  const msg = typeof b?.error?.message === 'string' ? b.error.message : typeof answer.body === 'string' ? answer.body.slice(0, 200) : '';
  return `HTTP ${answer.status}${msg ? `: ${msg}` : ''}`;
}

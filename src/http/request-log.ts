import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Deps } from '../services/deps.js';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The caller's `X-Request-Id` when it is a sane token, else a fresh UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Per-request info logging halves throughput, so only slow requests and a sample of the rest are
 * logged here; 5xx are logged with their error by the error handler. `ms` is null for a request
 * held open on purpose (long-poll, SSE): its duration is the client's choice, not slowness.
 */
export function logCompleted(deps: Deps, req: { id: string; method: string; url: string }, status: number, ms: number | null): void {
  if (status >= 500) return;
  const { slowRequestMs, logSampleRate } = deps.config;
  if (ms !== null && ms >= slowRequestMs) deps.log.warn({ reqId: req.id, method: req.method, url: req.url, status, ms }, 'slow request');
  else if (Math.random() < logSampleRate) deps.log.info({ reqId: req.id, method: req.method, url: req.url, status, ms }, 'request (sampled)');
}

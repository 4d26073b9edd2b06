import { performance } from 'node:perf_hooks';
import type { DeliveryRow } from '../db/deliveries-repo.js';
import { findTaskStatus } from '../db/tasks-repo.js';
import { getWebhookSecrets, signingSecrets } from '../db/webhook-secrets-repo.js';
import { guardedRequest, type LookupFn } from '../net/guarded-http.js';
import type { Deps } from '../services/deps.js';
import { statusResponseJson, taskStatusView } from '../services/task-view.js';
import { type AttemptResult, describeStatus } from './schedule.js';
import { webhookHeaders } from './sign.js';

/** How callbacks reach receivers. Production leaves both unset (OS resolver, system CAs). */
export interface CallbackTransport {
  /** Resolver for receiver host names; tests use it to simulate DNS (and DNS rebinding). */
  lookup?: LookupFn;
  /** An extra trust anchor for receivers' certificates (tests, private CAs). */
  ca?: string | Buffer;
}

/**
 * A receiver's answer is read only to learn its status: anything longer than this is cut off
 * and counts as a failed attempt, so a hostile receiver cannot make the sender buffer much.
 */
const MAX_RECEIVER_RESPONSE_BYTES = 64 * 1024;

/** One attempt as it happened. `permanent` failures end the delivery without retries. */
export interface AttemptOutcome {
  startedAt: number;
  durationMs: number;
  result: AttemptResult;
  statusCode: number | null;
  error: string | null;
  permanent: boolean;
}

/**
 * The callback body: exactly the status route's envelope for the task, built at send time, so
 * every attempt carries freshly signed result URLs (valid `urlTtlMs` from this attempt).
 */
async function buildPayload(deps: Deps, d: Pick<DeliveryRow, 'account_id' | 'task_id'>, now: number): Promise<string | null> {
  const row = await findTaskStatus(deps.db, d.account_id, d.task_id, { fresh: true });
  if (!row) return null;
  const data = taskStatusView(row, deps.signer, deps.publicUrl, now, deps.config.urlTtlMs);
  return statusResponseJson(data);
}

/**
 * Signs and POSTs one delivery through the SSRF guard (the address is judged again at connect,
 * redirects are not followed). Returns null when `signal` aborted it (shutdown): the caller gives
 * the delivery back untried rather than logging an attempt that was cut by us.
 */
export async function attemptDelivery(deps: Deps, d: DeliveryRow, signal: AbortSignal, transport: CallbackTransport = {}): Promise<AttemptOutcome | null> {
  const startedAt = deps.clock.now();
  const t0 = performance.now();
  const elapsed = () => Math.round(performance.now() - t0);
  const permanent = (error: string): AttemptOutcome => ({
    startedAt,
    durationMs: elapsed(),
    result: { kind: 'error', message: error },
    statusCode: null,
    error,
    permanent: true,
  });

  const secrets = await getWebhookSecrets(deps.db, d.account_id, startedAt);
  // A running task's event carries the body queued with it; the task's end is built now (fresh URLs).
  const body = secrets ? (d.payload ?? (await buildPayload(deps, d, startedAt))) : null;
  if (!secrets || body === null) return permanent('the task or its account no longer exists');

  const headers = {
    'Content-Type': 'application/json',
    ...webhookHeaders(signingSecrets(secrets), d.id, Math.floor(startedAt / 1000), body),
  };
  const res = await guardedRequest(d.url, {
    method: 'POST',
    headers,
    body,
    timeoutMs: deps.config.webhookTimeoutMs,
    maxResponseBytes: MAX_RECEIVER_RESPONSE_BYTES,
    allowPrivate: deps.config.allowPrivateCallbacks,
    requireHttps: true,
    signal,
    ...(transport.lookup ? { lookup: transport.lookup } : {}),
    ...(transport.ca !== undefined ? { tls: { ca: transport.ca } } : {}),
  });
  if (!res.ok) {
    if (res.kind === 'aborted') return null;
    const error = `${res.kind}: ${res.message}`;
    return { startedAt, durationMs: elapsed(), result: { kind: 'error', message: error }, statusCode: null, error, permanent: false };
  }
  return {
    startedAt,
    durationMs: elapsed(),
    result: { kind: 'response', status: res.status, retryAfter: res.headers['retry-after'] },
    statusCode: res.status,
    error: describeStatus(res.status),
    permanent: false,
  };
}

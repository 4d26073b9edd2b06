import { createHmac, timingSafeEqual } from 'node:crypto';
import { WebhookVerificationError } from './errors.js';
import type { Envelope, TaskStatus } from './types.js';

/** The body Longshot (and APIXO) POSTs to `callback_url`: the status envelope of the final task. */
export type WebhookPayload = Envelope<Omit<TaskStatus, 'resultUrls'> & { [extra: string]: unknown }>;

/** Header values as Fetch `Headers`, or as Node's `req.headers` (lower-case names). */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /** Accepted distance between `webhook-timestamp` and now, in seconds (default 300). */
  toleranceSec?: number;
  /** Unix ms; for tests. */
  now?: number;
}

const PREFIX = 'whsec_';
const DEFAULT_TOLERANCE_SEC = 5 * 60;

/**
 * Verifies a webhook per Standard Webhooks and returns its parsed payload, or throws
 * {@link WebhookVerificationError}. Pass the body exactly as received (a string or the raw
 * bytes), before any JSON parsing: re-serialised JSON does not match the signature.
 */
export function verifyWebhook<T = WebhookPayload>(rawBody: string | Uint8Array, headers: WebhookHeaders, secret: string, opts: VerifyWebhookOptions = {}): T {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError('missing_headers', 'webhook-id, webhook-timestamp and webhook-signature headers are required');
  }

  if (!/^\d{1,15}$/.test(timestamp)) throw new WebhookVerificationError('bad_timestamp', `webhook-timestamp "${timestamp}" is not Unix seconds`);
  const nowSec = Math.floor((opts.now ?? Date.now()) / 1000);
  const tolerance = opts.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  if (Math.abs(nowSec - Number(timestamp)) > tolerance) {
    throw new WebhookVerificationError('stale_timestamp', `webhook-timestamp is more than ${tolerance} s away from now; possible replay`);
  }

  const key = Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
  if (key.length === 0) throw new WebhookVerificationError('bad_secret', 'the webhook secret is empty or not base64');

  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : Buffer.from(rawBody.buffer, rawBody.byteOffset, rawBody.byteLength);
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();

  // Several signatures arrive during a secret rotation; any one matching v1 signature is enough.
  let matched = false;
  for (const entry of signatures.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const given = Buffer.from(entry.slice(comma + 1), 'base64');
    // Compare every candidate (no early exit) so timing reveals nothing about which one matched.
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  if (!matched) throw new WebhookVerificationError('bad_signature', 'no webhook-signature matches the body and secret');

  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch {
    throw new WebhookVerificationError('bad_payload', 'the webhook body is not JSON');
  }
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  let v = record[name];
  if (v === undefined) {
    // Plain objects built by hand may use other casings.
    const k = Object.keys(record).find((key) => key.toLowerCase() === name);
    v = k === undefined ? undefined : record[k];
  }
  return Array.isArray(v) ? v.join(' ') : v;
}

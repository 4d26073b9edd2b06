import { createHmac, randomBytes } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the signed content is
 * `${webhook-id}.${webhook-timestamp}.${body}`, the MAC is HMAC-SHA256, and the header value is
 * `v1,<base64>`; several signatures (during a secret rotation) are space-separated and a receiver
 * accepts the message if any one matches. This is exactly what the `standardwebhooks` libraries
 * verify, so receivers can use them unchanged.
 */

const PREFIX = 'whsec_';

/** A new account secret: `whsec_` + base64 of 24 random bytes (the form the libraries expect). */
export function newWebhookSecret(): string {
  return PREFIX + randomBytes(24).toString('base64');
}

/** The HMAC key of a `whsec_…` secret: the base64 after the prefix, decoded (as the libraries do). */
export function secretKey(secret: string): Buffer {
  const key = Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
  if (key.length === 0) throw new Error('webhook secret is empty');
  return key;
}

/** One `v1,<base64>` signature. `timestampSec` is Unix seconds, as sent in `webhook-timestamp`. */
export function sign(secret: string, id: string, timestampSec: number, body: string): string {
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestampSec}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers, signed with every secret given (current first). */
export function webhookHeaders(secrets: readonly string[], id: string, timestampSec: number, body: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSec),
    'webhook-signature': secrets.map((s) => sign(s, id, timestampSec, body)).join(' '),
  };
}

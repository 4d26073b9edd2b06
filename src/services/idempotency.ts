import { createHash } from 'node:crypto';

/** How long an Idempotency-Key is remembered. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3600_000;

const KEY_SHAPE = /^[\x21-\x7e]{1,255}$/;

/** Printable ASCII without spaces, 1-255 characters (as Stripe and the IETF draft allow). */
export function isValidIdempotencyKey(value: string): boolean {
  return KEY_SHAPE.test(value);
}

/** A fingerprint of the request: the same key with a different body is a client bug (422). */
export function requestHash(model: string, body: unknown): string {
  return createHash('sha256').update(model).update('\n').update(canonicalJson(body)).digest('hex');
}

/** JSON with object keys sorted, so field order does not change the fingerprint. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

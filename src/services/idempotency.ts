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

/** Literal text on the work stack, told apart from the (possibly string) values still to write. */
class Text {
  constructor(readonly text: string) {}
}
const COMMA = new Text(',');
const CLOSE_ARRAY = new Text(']');
const CLOSE_OBJECT = new Text('}');

/**
 * JSON with object keys sorted, so field order does not change the fingerprint. It runs on the
 * raw body, so it keeps its own work stack instead of recursing: nesting cannot overflow the call
 * stack here. The text is the same as the recursive definition's, so fingerprints remembered
 * before this change still match.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  // Popped from the end: pieces are pushed in reverse of the order they are written.
  const todo: unknown[] = [value];
  while (todo.length > 0) {
    const item = todo.pop();
    if (item instanceof Text) {
      out.push(item.text);
    } else if (Array.isArray(item)) {
      out.push('[');
      todo.push(CLOSE_ARRAY);
      for (let i = item.length - 1; i >= 0; i--) {
        todo.push(item[i]);
        if (i > 0) todo.push(COMMA);
      }
    } else if (item !== null && typeof item === 'object') {
      out.push('{');
      todo.push(CLOSE_OBJECT);
      const keys = Object.keys(item).sort();
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!;
        todo.push((item as Record<string, unknown>)[key], new Text(`${JSON.stringify(key)}:`));
        if (i > 0) todo.push(COMMA);
      }
    } else {
      out.push(JSON.stringify(item) ?? 'null');
    }
  }
  return out.join('');
}

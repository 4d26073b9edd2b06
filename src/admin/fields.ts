import { parseUsd } from '../domain/money.js';

/**
 * The operator's inputs (admin API bodies, CLI flags) are checked here, once: the HTTP routes pass
 * the JSON body, the CLI builds the same object from its flags, and both get the same refusals.
 */

/** An expected refusal: the HTTP edge renders it in the envelope, the CLI prints it (exit 2). */
export interface Refusal {
  ok: false;
  status: 400 | 404 | 409;
  /** The offending input, by its admin API name (`name`, `usd`, `budgetUsd`, `keyId`, …). */
  field: string;
  /** A sentence naming the field. */
  error: string;
  /** For a 400: what is wrong, without the field's name, so the CLI can name its flag instead. */
  reason?: string;
}

export type Outcome<T> = { ok: true; value: T } | Refusal;

export const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });

export function invalid(field: string, reason: string): Refusal {
  return { ok: false, status: 400, field, error: `${field} ${reason}`, reason };
}

export function notFound(field: string, error: string): Refusal {
  return { ok: false, status: 404, field, error };
}

export function conflict(field: string, error: string): Refusal {
  return { ok: false, status: 409, field, error };
}

/** A JSON object with no fields but these: a misspelt field (`budget_usd`) is refused, not ignored. */
export function fieldsOf(body: unknown, allowed: readonly string[]): Outcome<Record<string, unknown>> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return invalid('body', 'must be a JSON object');
  const record = body as Record<string, unknown>;
  const unknown = Object.keys(record).find((k) => !allowed.includes(k));
  if (unknown !== undefined) return invalid(unknown, `is not a field of this request (the fields are ${allowed.join(', ')})`);
  return ok(record);
}

const ACCOUNT_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function accountName(value: unknown, field = 'name'): Outcome<string> {
  if (typeof value !== 'string' || !ACCOUNT_NAME.test(value)) return invalid(field, 'must be 1-64 letters, digits, _ . or - (a string)');
  return ok(value);
}

/**
 * A dollar amount as a JSON number, in micro-dollars: at most 6 decimals and under $1,000,000,000
 * (the rule of `parseUsd`, which the CLI's text follows too). `positive` refuses 0.
 */
export function usdAmount(value: unknown, field: string, opts: { positive: boolean }): Outcome<number> {
  const micros = typeof value === 'number' ? parseUsd(String(value)) : null;
  const what = opts.positive ? 'a positive dollar amount' : 'a dollar amount (0 or more)';
  if (micros === null || (opts.positive && micros === 0)) return invalid(field, `must be ${what} as a number with at most 6 decimals, such as 25 or 12.5`);
  return ok(micros);
}

/** Text of at most `max` characters, or null. */
export function optionalText(value: unknown, field: string, max: number): Outcome<string | null> {
  if (value === null) return ok(null);
  if (typeof value !== 'string' || value.length > max) return invalid(field, `must be text of at most ${max} characters`);
  return ok(value);
}

/** A per-key limit: a whole number (0 = unlimited), or null for the service default. */
export function keyLimit(value: unknown, field: string): Outcome<number | null> {
  if (value === null) return ok(null);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 999_999_999) {
    return invalid(field, 'must be a whole number from 0 (unlimited) to 999999999, or null for the service default');
  }
  return ok(value);
}

/** A list of allowed names, or null for all of them. */
export function allowedList<T extends string>(value: unknown, field: string, allowed: readonly T[]): Outcome<T[] | null> {
  if (value === null) return ok(null);
  const items = Array.isArray(value) ? value : null;
  const bad = items?.find((i) => !(allowed as readonly unknown[]).includes(i));
  if (!items || items.length === 0 || bad !== undefined) {
    const what = bad === undefined ? '' : ` (${JSON.stringify(bad)} is not one)`;
    return invalid(field, `must list one or more of ${allowed.join(', ')}, or be null for all${what}`);
  }
  return ok([...new Set(items as T[])]);
}

/** The ledger's page size and cursor, as query or flag text: plain decimal digits only. */
export function ledgerPaging(limit: unknown, cursor: unknown): Outcome<{ limit: number; beforeId?: number }> {
  // Digits only: Number() would also take "0x10", " 5" and "1e1".
  const n = limit === undefined ? 50 : typeof limit === 'string' && /^\d{1,4}$/.test(limit) ? Number(limit) : Number.NaN;
  if (!(n >= 1 && n <= MAX_LEDGER_PAGE)) return invalid('limit', `must be a whole number from 1 to ${MAX_LEDGER_PAGE} in decimal digits, such as 20`);
  if (cursor === undefined) return ok({ limit: n });
  if (typeof cursor !== 'string' || !/^\d{1,15}$/.test(cursor)) return invalid('cursor', 'is not a cursor this ledger returned');
  return ok({ limit: n, beforeId: Number(cursor) });
}

const MAX_LEDGER_PAGE = 1000;

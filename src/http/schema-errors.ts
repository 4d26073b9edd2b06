import type { FastifySchemaValidationError } from 'fastify';
import { ApiError } from './api-error.js';

/**
 * Turns the Ajv error of a route's JSON schema into the API's error (docs/contract.md §1): the
 * envelope's `data.field` names the offending field and `data.error` is a sentence that starts
 * with it, worded like the hand-written submit validator's (`taskId is required`,
 * `taskId must be a string`, `mode must be one of fast, quality`).
 */

/**
 * The Ajv options of every route schema. No coercion (`"prompt": 1` stays a 400). `verbose` puts
 * the failing value and its schema on each error, so the sentence can tell a repeated query
 * parameter from a wrong one and use the field's own wording. The `x-` keywords are annotations
 * Ajv would otherwise refuse: `x-error` is the rest of the sentence for a field whose rule a
 * keyword cannot say well (`limit` + `must be a whole number from 1 to 200 in decimal digits`),
 * `x-longshot-addition` marks a field or parameter APIXO does not have.
 */
export const AJV_OPTIONS = {
  customOptions: { coerceTypes: false, removeAdditional: false, verbose: true, keywords: ['x-error', 'x-longshot-addition'] },
};

/** What Ajv adds to an error with `verbose: true`. */
type VerboseError = FastifySchemaValidationError & { data?: unknown; parentSchema?: Record<string, unknown> };

const ARTICLE_TYPES: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
};

/** `/input/image_urls/1` → `input.image_urls[1]`, the way the submit validator names fields. */
function fieldName(pointer: string, child?: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (child !== undefined) parts.push(child);
  return parts.reduce((name, part) => (/^\d+$/.test(part) && name !== '' ? `${name}[${part}]` : name === '' ? part : `${name}.${part}`), '');
}

function sentence(e: VerboseError, dataVar: string, field: string): string {
  const schema = e.parentSchema ?? {};
  // null counts as absent, as it does for every field of a submit (validate-submit.ts).
  if (e.keyword === 'required' || e.data === null) return `${field} is required`;
  if (e.keyword === 'minLength' && e.data === '' && e.params.limit === 1) return `${field} is required`;
  // A query string holds only strings; an array is the same parameter given more than once.
  if (e.keyword === 'type' && dataVar === 'querystring' && Array.isArray(e.data)) return `${field} must be given once`;
  if (e.keyword === 'type' && field === 'body') return 'body must be a JSON object';
  if (typeof schema['x-error'] === 'string') return `${field} ${schema['x-error']}`;
  if (e.keyword === 'type') return `${field} must be ${ARTICLE_TYPES[String(e.params.type)] ?? e.params.type}`;
  if (e.keyword === 'enum') return `${field} must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
  return `${field} ${e.message ?? 'is invalid'}`;
}

/**
 * Fastify's `schemaErrorFormatter`. A path that does not match its parameters' schema names no
 * resource of this API: 404 (`unknown model veo-9`), as an unknown route is. Anything else a
 * route's schema refuses is a 400.
 */
export function formatSchemaError(errors: FastifySchemaValidationError[], dataVar: string): ApiError {
  // Ajv stops at the first error (allErrors is off: a body with many bad fields costs one check).
  const e = errors[0] as VerboseError | undefined;
  if (!e) return new ApiError(400, { error: `${dataVar} is invalid` });
  const missing = e.keyword === 'required' ? String(e.params.missingProperty) : undefined;
  const field = fieldName(e.instancePath, missing) || (dataVar === 'body' ? 'body' : dataVar);
  if (dataVar === 'params') return new ApiError(404, { error: `unknown ${field} ${String(e.data)}`, field });
  return new ApiError(400, { error: sentence(e, dataVar, field), field });
}

import { type TSchema, Type } from 'typebox';
import { STATUS_MESSAGES } from '../api-error.js';

/**
 * The envelope every answer is wrapped in (docs/contract.md §1), as JSON schemas for the routes'
 * `response` entries. Response schemas only document here: the app serializes with
 * JSON.stringify (openapi.ts), so a schema can never drop or retype a field a handler sends.
 */

/** Marks what APIXO does not have (docs/contract.md §9): an operation, a field or a parameter. */
export const ADDITION = { 'x-longshot-addition': true } as const;

const ErrorDetail = Type.Object(
  {
    error: Type.String({ description: 'A sentence naming the offending field or the reason: `input.prompt is required`.' }),
    field: Type.Optional(Type.String({ description: 'The offending field, parameter or header: `input.prompt`, `taskId`, `Content-Type`.' })),
    failCode: Type.Optional(Type.String({ description: 'A task fail code where one applies (`TASKID_ERROR`, `INSUFFICIENT_BALANCE`).' })),
    retryAfter: Type.Optional(Type.Integer({ minimum: 1, description: 'Seconds to wait before retrying (429); the same as `Retry-After`.' })),
    required: Type.Optional(Type.Number({ description: "402: the task's price in USD." })),
    available: Type.Optional(Type.Number({ description: '402: the available balance in USD.' })),
  },
  { additionalProperties: true },
);

/** Shared by every error response of the document, under this name. */
export const ErrorEnvelope = Type.Object(
  {
    code: Type.Integer({ minimum: 400, maximum: 599, description: 'The HTTP status, repeated.' }),
    message: Type.String({ description: 'The fixed text of the status (docs/errors.md): `Invalid request`, `Not found`…' }),
    data: Type.Union([ErrorDetail, Type.Null()]),
  },
  {
    $id: 'ErrorEnvelope',
    title: 'ErrorEnvelope',
    description: 'Every error: the status, its fixed message and `data` with a sentence naming the field. Every error and fail code is in docs/errors.md.',
  },
);

const errorContent = { 'application/json': { schema: Type.Ref('ErrorEnvelope') } };

/** One error response in the envelope: `STATUS_MESSAGES[code]`, then when the route answers it. */
export function errorResponse(code: number, when: string): Record<string, unknown> {
  const response: Record<string, unknown> = { description: `${STATUS_MESSAGES[code] ?? 'Error'}: ${when}`, content: errorContent };
  if (code === 429) {
    response.headers = { 'Retry-After': { type: 'integer', minimum: 1, description: 'Seconds until the limit allows another request.' } };
  }
  return response;
}

/** The error responses of a route: status code → when it is answered. */
export function errorResponses(whens: Record<number, string>): Record<number, Record<string, unknown>> {
  return Object.fromEntries(Object.entries(whens).map(([code, when]) => [code, errorResponse(Number(code), when)]));
}

/** `{"code":200,"message":"success","data":…}` with this `data`. */
function successEnvelope(data: TSchema, title?: string) {
  return Type.Object(
    { code: Type.Literal(200), message: Type.Literal('success'), data },
    title === undefined ? {} : { title, description: `The envelope of a successful answer; \`data\` is ${title}.` },
  );
}

/** A 200 in the envelope, as a route's `response[200]`. */
export function okResponse(description: string, data: TSchema, extra: Record<string, unknown> = {}) {
  return { description, content: { 'application/json': { schema: successEnvelope(data) } }, ...extra };
}

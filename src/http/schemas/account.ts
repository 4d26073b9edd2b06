import { Type } from 'typebox';
import { ADDITION, errorResponses, okResponse } from './envelope.js';

/**
 * Schemas of the account's routes: balance, ledger, webhook log and redelivery. Query strings
 * and bodies are validated by Fastify with these (schema-errors.ts words the refusals); a query
 * string holds text only, so numbers in it are strings with a digits-only pattern, never coerced.
 */

const MAX_LEDGER_LIMIT = 200;
const UNIX_MS = 'Unix time in ms.';
const rateLimited = "the key's reads (GET) or writes (POST) per minute are at their limit.";

export const currentBalanceSchema = {
  operationId: 'currentBalance',
  tags: ['apixo'],
  summary: 'The available balance',
  description: 'Credit minus captured minus held, in USD.',
  response: {
    200: okResponse('The available balance in USD, a bare number.', Type.Number({ examples: [9.8] })),
    ...errorResponses({ 429: rateLimited }),
  },
};

const LedgerEntry = Type.Object({
  id: Type.String({ description: 'Pass the last one as `cursor` to go on.' }),
  kind: Type.Enum(['credit', 'hold', 'capture', 'release']),
  amount: Type.Number({ description: 'USD.' }),
  taskId: Type.Union([Type.String(), Type.Null()]),
  note: Type.Union([Type.String(), Type.Null()]),
  createTime: Type.Integer({ description: UNIX_MS }),
});

export const ledgerSchema = {
  operationId: 'accountLedger',
  tags: ['beyond-apixo'],
  summary: "The account's ledger, newest first",
  description: 'Credits, holds, captures and releases with their task ids (docs/contract.md §4).',
  ...ADDITION,
  querystring: Type.Object({
    limit: Type.Optional(
      Type.String({
        // 1–200 in decimal digits, leading zeros allowed (`007`); not `0x10`, ` 5`, `1e1` or `+3`.
        pattern: '^(?=\\d{1,3}$)0*(?:[1-9]\\d?|1\\d\\d|200)$',
        'x-error': `must be a whole number from 1 to ${MAX_LEDGER_LIMIT} in decimal digits`,
        description: `Entries per page, 1–${MAX_LEDGER_LIMIT} in decimal digits; 50 when absent.`,
      }),
    ),
    cursor: Type.Optional(
      Type.String({ pattern: '^\\d{1,15}$', 'x-error': 'is not one this API returned', description: 'The `nextCursor` of the page before.' }),
    ),
  }),
  response: {
    200: okResponse(
      'A page of entries.',
      Type.Object({
        entries: Type.Array(LedgerEntry),
        nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'null on the last page.' }),
      }),
    ),
    ...errorResponses({ 400: '`limit` not 1–200 in decimal digits, or a `cursor` this API did not return (`data.field` names it).', 429: rateLimited }),
  },
};

const nullableMs = Type.Union([Type.Integer(), Type.Null()], { description: UNIX_MS });

const Delivery = Type.Object({
  webhookId: Type.String({ description: 'The `webhook-id` header, the same on every retry of this delivery.' }),
  trigger: Type.Enum(['settle', 'redeliver']),
  event: Type.Union([Type.Enum(['processing', 'progress', 'success', 'failed']), Type.Null()], {
    description: 'Extension: what this message tells (`callback_events`); null for a redelivery, which carries the status when it is sent.',
  }),
  url: Type.String(),
  state: Type.Enum(['pending', 'delivered', 'failed', 'gone']),
  createTime: Type.Integer({ description: UNIX_MS }),
  nextAttemptTime: nullableMs,
  completeTime: nullableMs,
  attempts: Type.Array(
    Type.Object({
      attempt: Type.Integer({ minimum: 1 }),
      time: Type.Integer({ description: UNIX_MS }),
      statusCode: Type.Union([Type.Integer(), Type.Null()]),
      durationMs: Type.Integer(),
      error: Type.Union([Type.String(), Type.Null()], { description: 'docs/errors.md, webhook delivery states.' }),
      state: Type.String({ description: "The delivery's state after this attempt." }),
      nextAttemptTime: nullableMs,
    }),
  ),
});

const taskErrors = {
  403: "the key's permissions do not cover this task's model or provider (`field: taskId`).",
  404: "an unknown task or another account's task: the same answer (`field: taskId`).",
};

export const webhookDeliveriesSchema = {
  operationId: 'webhookDeliveries',
  tags: ['beyond-apixo'],
  summary: "A callback task's webhook deliveries and their attempts",
  ...ADDITION,
  querystring: Type.Object({ taskId: Type.String({ minLength: 1, description: 'A task id as submit returned it.' }) }),
  response: {
    200: okResponse('The deliveries, oldest first.', Type.Object({ taskId: Type.String(), deliveries: Type.Array(Delivery) })),
    ...errorResponses({ 400: '`taskId` missing, empty or repeated (`field: taskId`).', ...taskErrors, 429: rateLimited }),
  },
};

export const redeliverSchema = {
  operationId: 'redeliverWebhook',
  tags: ['beyond-apixo'],
  summary: "Send a finished callback task's webhook again",
  description: 'A new delivery: a new `webhook-id` and a fresh retry schedule (docs/webhooks.md).',
  ...ADDITION,
  body: Type.Object({ taskId: Type.String({ minLength: 1, description: 'A finished task submitted with `request_type: callback`.' }) }),
  response: {
    200: okResponse('Queued.', Type.Object({ taskId: Type.String(), webhookId: Type.String() })),
    ...errorResponses({
      400: 'a body that is not a JSON object, `taskId` missing or not a string, a task that is not a finished callback task (`field: taskId`), `Content-Type` not application/json.',
      ...taskErrors,
      409: 'a redelivery of this task is still pending (`field: taskId`).',
      413: 'a body over the limit.',
      429: rateLimited,
    }),
  },
};

import { Type } from 'typebox';
import { MODELS } from '../../domain/models.js';
import { FAIL_CODES } from '../../domain/task-state.js';
import { ADDITION, errorResponses, okResponse } from './envelope.js';

/**
 * Schemas of the routes that name one task: statusTask, cancel, events. Parameters are validated
 * by Fastify with these (schema-errors.ts words the refusals); responses only document. A task id
 * has no pattern here: a malformed id is the same 404 as an unknown one (task-guard.ts).
 */

const TASK_ID_TEXT = 'A task id as submit returned it: 32 lowercase hex characters.';
const UNIX_MS = 'Unix time in ms.';

const TaskIdParams = Type.Object({ taskId: Type.String({ description: TASK_ID_TEXT }) });

/** The status `data` (services/task-view.ts), shared by statusTask, cancel, SSE events and callbacks. */
export const TaskStatus = Type.Object(
  {
    taskId: Type.String({ pattern: '^[0-9a-f]{32}$' }),
    state: Type.Enum(['pending', 'processing', 'success', 'failed'], { description: '`pending` until a worker takes the task.' }),
    createTime: Type.Integer({ description: UNIX_MS }),
    resultJson: Type.Optional(
      Type.String({
        description: 'On `success`: a JSON *string* `{"resultUrls":["<MP4 URL>"]}`; the URL is signed, valid 24 h from this answer.',
        contentMediaType: 'application/json',
        contentSchema: { type: 'object', required: ['resultUrls'], properties: { resultUrls: { type: 'array', items: { type: 'string', format: 'uri' } } } },
      }),
    ),
    completeTime: Type.Optional(Type.Integer({ description: `On \`success\` and \`failed\`. ${UNIX_MS}` })),
    costTime: Type.Optional(Type.Integer({ description: 'On `success`: completeTime − createTime, in ms.' })),
    failCode: Type.Optional(Type.Enum(FAIL_CODES, { description: 'On `failed`: why (docs/errors.md, task fail codes).' })),
    failMsg: Type.Optional(Type.String({ description: 'On `failed`: the reason in words.' })),
    posterUrl: Type.Optional(Type.String({ format: 'uri', description: 'On `success`: a signed JPEG poster of the result.', ...ADDITION })),
  },
  { $id: 'TaskStatus', title: 'TaskStatus', description: 'A task as statusTask shows it; a failed task is still HTTP 200.' },
);

const taskErrors = {
  403: "the key's permissions (`--models`, `--strategies`) do not cover this task's model or provider (`field: taskId`).",
  404: "an unknown task, a malformed id or another account's task: the same answer (`field: taskId`).",
  429: "the key's status reads (GET) or submits (POST) per minute are at their limit.",
};

export const statusTaskSchema = {
  operationId: 'statusTask',
  tags: ['apixo'],
  summary: "A task's state and result",
  description:
    'The hot path of the API: one indexed read. With `wait` an unfinished task is answered when its state changes or the seconds are up, which replaces most polling.',
  params: Type.Object({ model: Type.Enum(MODELS, { description: 'The model the task was submitted to; another model is a 404.' }) }),
  querystring: Type.Object({
    taskId: Type.String({ minLength: 1, description: TASK_ID_TEXT }),
    wait: Type.Optional(
      Type.String({
        // 0–60 in decimal digits (and empty, which is 0): a query string holds text, never coerced.
        pattern: '^(?:[0-5]?\\d|60)?$',
        'x-error': 'must be a whole number of seconds from 0 to 60',
        description: 'Hold the answer up to this many seconds (0–60) while the task is unfinished; 0 or absent answers at once.',
        ...ADDITION,
      }),
    ),
  }),
  response: {
    200: okResponse('The task.', Type.Ref('TaskStatus')),
    ...errorResponses({
      400: '`taskId` missing, empty or repeated; `wait` not 0–60 (`data.field` names it).',
      401: 'a missing, malformed, unknown or revoked key, also one revoked while a `wait` was held.',
      403: 'the key may not use this model, or its permissions do not cover the task (`field: taskId`).',
      404: "an unknown model, an unknown task, a task of the other model, or another account's task: the same answer.",
      429: taskErrors[429],
    }),
  },
};

export const cancelTaskSchema = {
  operationId: 'cancelTask',
  tags: ['beyond-apixo'],
  summary: 'Cancel a pending task',
  description: 'The task fails with `CANCELLED` and its hold is released. No body is needed.',
  ...ADDITION,
  params: TaskIdParams,
  response: {
    200: okResponse('Cancelled: the task as it is now, `failed` with `failCode: CANCELLED`.', Type.Ref('TaskStatus')),
    ...errorResponses({
      400: 'a body that is not valid JSON (none is needed).',
      ...taskErrors,
      409: 'the task is no longer `pending` (`field: taskId`).',
      413: 'a body over the limit.',
    }),
  },
};

export const eventsSchema = {
  operationId: 'taskEvents',
  tags: ['beyond-apixo'],
  summary: "Server-Sent Events of one task's states",
  description:
    'Each state is sent as `event: status` whose `data` is the TaskStatus; a comment line every 15 s keeps proxies from closing the stream; it ends after a final state. A key revoked while it is open ends it with one `event: revoked` whose `data` is the 401 envelope.',
  ...ADDITION,
  params: TaskIdParams,
  response: {
    200: {
      description: 'A text/event-stream of `event: status` messages.',
      content: {
        'text/event-stream': {
          schema: Type.String({ examples: ['event: status\nid: pending\ndata: {"taskId":"…","state":"pending","createTime":1735689600000}\n\n'] }),
        },
      },
    },
    ...errorResponses(taskErrors),
  },
};

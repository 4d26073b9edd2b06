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
    deletedAt: Type.Optional(
      Type.Integer({
        description: `When the result files were deleted, by retention or by \`DELETE /api/v1/tasks/{taskId}\` (then \`resultJson\` and \`posterUrl\` are absent). ${UNIX_MS}`,
        ...ADDITION,
      }),
    ),
    progress: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 100,
        description:
          'How far the task is, 0–100, never lower than before (across retries too); 100 on `success`, absent on `failed` and while unknown. Measured by the local engine, estimated from recent run times for upstream engines (at most 95 until done). docs/api.md, progress.',
        ...ADDITION,
      }),
    ),
    queuePosition: Type.Optional(
      Type.Integer({ minimum: 0, description: 'On `pending`: the number of pending tasks ahead of this one in claim order (0 = next).', ...ADDITION }),
    ),
    etaSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'On `pending` and `processing`: seconds until the task should end, from recent run times of its model and mode; absent without history.',
        ...ADDITION,
      }),
    ),
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
  summary: 'Cancel a pending or running task',
  description:
    'The task fails with `CANCELLED` and its hold is released. A `pending` task can be cancelled; a `processing` one only where its engine can stop the work (the local engine: its render is killed). On Veo (gemini, vertex) and partner engines (apixo, fal) a job once submitted is billed upstream and cannot be stopped: 409, and the task runs on. No body is needed.',
  ...ADDITION,
  params: TaskIdParams,
  response: {
    200: okResponse('Cancelled: the task as it is now, `failed` with `failCode: CANCELLED`.', Type.Ref('TaskStatus')),
    ...errorResponses({
      400: 'a body that is not valid JSON (none is needed).',
      ...taskErrors,
      409: 'the task is finished, or it runs on an engine that cannot stop its work (`field: taskId`; `error` says which).',
      413: 'a body over the limit.',
    }),
  },
};

export const deleteTaskSchema = {
  operationId: 'deleteTask',
  tags: ['beyond-apixo'],
  summary: "Delete a finished task's result files",
  description:
    'Removes the video and poster of a `success` or `failed` task from storage and marks it deleted: its file URLs answer 410 at once, statusTask still answers the task (same state, no `resultJson` or `posterUrl`, `deletedAt` set), it can no longer be extended (`TASKID_ERROR`), and the ledger is untouched. Deleting a deleted task answers 200 again, unchanged. Counts against the submit budget, like every write.',
  ...ADDITION,
  params: TaskIdParams,
  response: {
    200: okResponse('Deleted (or already deleted): the task as statusTask now shows it, with `deletedAt`.', Type.Ref('TaskStatus')),
    ...errorResponses({
      ...taskErrors,
      409: 'the task is `pending` or `processing` (cancel it first, or wait), or an extension of it is still unfinished (`field: taskId`).',
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

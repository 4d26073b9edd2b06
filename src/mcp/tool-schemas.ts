import * as z from 'zod';
import { MODELS } from '../domain/models.js';
import { REQUEST_SCHEMAS } from '../http/model-catalogue.js';

/**
 * The tools' input schemas. `generate_video` and `extend_video` take the submit body's `input`
 * fields as they are, from the documented submit schemas (http/schemas/submit.ts: one source,
 * the server validates them and names the field). The arguments only the tools have (a task id, a
 * timeout, a path) are zod schemas, which both check the call and give its JSON Schema.
 */

type JsonSchema = Record<string, unknown>;

const TASK_ID = z
  .string()
  .regex(/^[0-9a-f]{32}$/, 'must be a task id: 32 lowercase hex characters')
  .describe('The task id generate_video or extend_video returned (32 hex characters).');
const MODEL = z
  .enum(MODELS)
  .optional()
  .describe('The model the task was submitted under. Optional: without it the task is looked up under veo-3-1, then veo-3-1-extend.');

export const taskArgs = z.object({ taskId: TASK_ID, model: MODEL }).strict();
export const waitArgs = z
  .object({
    taskId: TASK_ID,
    model: MODEL,
    timeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(1800)
      .optional()
      .describe('Stop waiting after this many seconds (default 240, at most 1800). The task keeps running; call wait_for_task again.'),
  })
  .strict();
export const downloadArgs = z
  .object({
    taskId: TASK_ID,
    model: MODEL,
    path: z
      .string()
      .min(1)
      .describe(
        'Where to save the MP4, e.g. /home/me/videos/ocean.mp4; a relative path is relative to the MCP server’s working directory. Parent directories are created; an existing file is replaced.',
      ),
  })
  .strict();
export const httpDownloadArgs = z.object({ taskId: TASK_ID, model: MODEL }).strict();
export const lineageArgs = z.object({ taskId: TASK_ID }).strict();
export const listArgs = z
  .object({
    state: z.enum(['pending', 'processing', 'success', 'failed']).optional().describe('Only tasks in this state.'),
    model: z.enum(MODELS).optional().describe('Only tasks of this model.'),
    limit: z.number().int().min(1).max(100).optional().describe('Tasks per page, 1–100 (default 20).'),
    cursor: z.string().min(1).optional().describe('nextCursor of the previous page.'),
  })
  .strict();
export const noArgs = z.object({}).strict();

export function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as JsonSchema;
  return rest;
}

/** A submit body's `input` schema as a tool's arguments, plus `provider` from the body's top level. */
function submitArgs(model: (typeof MODELS)[number]): JsonSchema {
  const body = REQUEST_SCHEMAS[model] as { properties: Record<string, JsonSchema> };
  const { description: _d, ...input } = body.properties.input as JsonSchema & { properties: Record<string, JsonSchema> };
  return { ...input, type: 'object', properties: { ...input.properties, provider: body.properties.provider! }, additionalProperties: false };
}

export const GENERATE_ARGS = submitArgs('veo-3-1');
export const EXTEND_ARGS = submitArgs('veo-3-1-extend');

/** Names of the arguments a schema takes, to refuse a misspelt one instead of ignoring it. */
export const argumentNames = (schema: JsonSchema): Set<string> => new Set(Object.keys((schema.properties as object | undefined) ?? {}));

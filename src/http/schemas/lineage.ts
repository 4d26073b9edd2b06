import { Type } from 'typebox';
import { LINEAGE_MAX_NODES } from '../../services/task-lineage.js';
import { ADDITION, errorResponses, okResponse } from './envelope.js';

/** The schema of GET /api/v1/tasks/{taskId}/lineage (services/task-lineage.ts): a flat tree. */

const UNIX_MS = 'Unix time in ms.';
const orNull = <T extends Parameters<typeof Type.Union>[0][number]>(t: T, description: string) => Type.Union([t, Type.Null()], { description });

const LineageNode = Type.Object({
  taskId: Type.String({ pattern: '^[0-9a-f]{32}$' }),
  parentTaskId: orNull(Type.String({ pattern: '^[0-9a-f]{32}$' }), 'The task this one extends; null for the root generation.'),
  depth: Type.Integer({ minimum: 0, description: 'Extensions between the root and this task: 0 for the root.' }),
  model: Type.Enum(['veo-3-1', 'veo-3-1-extend']),
  createdAt: Type.Integer({ description: UNIX_MS }),
  hidden: Type.Boolean({
    description:
      "The key's permissions (`--models`, `--strategies`) do not cover this task: only its place in the tree is shown, every field below is null (and `deleted` false).",
  }),
  state: orNull(Type.Enum(['pending', 'processing', 'success', 'failed']), 'As statusTask shows it.'),
  mode: orNull(Type.String(), '`fast` or `quality`.'),
  prompt: orNull(Type.String(), 'The prompt it was submitted with.'),
  durationSeconds: orNull(Type.Number(), "On `success`: the video's length in seconds (an extension's video includes its source)."),
  completedAt: orNull(Type.Integer(), `When it succeeded or failed. ${UNIX_MS}`),
  failCode: orNull(Type.String(), 'On `failed`: why (docs/errors.md, task fail codes).'),
  videoUrl: orNull(Type.String({ format: 'uri' }), "On `success` while the files are kept: the same signed URL as statusTask's `resultUrls[0]`, valid 24 h."),
  posterUrl: orNull(Type.String({ format: 'uri' }), "On `success` while the files are kept: the same signed JPEG poster as statusTask's `posterUrl`."),
  deleted: Type.Boolean({ description: 'The files were deleted (by retention or `DELETE /api/v1/tasks/{taskId}`); the URLs are then null.' }),
  deletedAt: orNull(Type.Integer(), `When the files were deleted. ${UNIX_MS}`),
});

export const lineageSchema = {
  operationId: 'taskLineage',
  tags: ['beyond-apixo'],
  summary: 'The extension tree a task belongs to',
  description: `The root generation and every extension and branch under it, as a flat list of nodes with their parent ids; asked from any task of the tree it is the same tree. Breadth first (the root, then each level oldest first), so a parent always comes before its children; at most ${LINEAGE_MAX_NODES} nodes (then \`truncated\`), and the path from the root to the task asked for is always included. A read: it counts against the status budget.`,
  ...ADDITION,
  params: Type.Object({ taskId: Type.String({ description: 'Any task of the tree: 32 lowercase hex characters.' }) }),
  response: {
    200: okResponse(
      'The tree.',
      Type.Object({
        taskId: Type.String({ description: 'The task asked for.' }),
        rootTaskId: Type.String({ description: 'The generation (`veo-3-1`) at the root of the tree.' }),
        truncated: Type.Boolean({ description: `The tree has more than ${LINEAGE_MAX_NODES} tasks and some were left out.` }),
        nodes: Type.Array(LineageNode),
      }),
    ),
    ...errorResponses({
      403: "the key's permissions do not cover the task asked for (`field: taskId`).",
      404: "an unknown task, a malformed id or another account's task: the same answer (`field: taskId`).",
    }),
  },
};

import type { FastifyPluginAsync } from 'fastify';
import { deleteTask } from '../../services/delete-task.js';
import type { Deps } from '../../services/deps.js';
import { ApiError, success } from '../api-error.js';
import { deleteTaskSchema } from '../schemas/tasks.js';
import { guardedTask } from '../task-guard.js';

/**
 * DELETE /api/v1/tasks/{taskId} (a Longshot addition, docs/api.md): a finished task's files are
 * removed and the task is marked deleted. The key needs what every route that names a task needs
 * (task-guard.ts): the task is its account's, and its permissions cover the task's model and provider.
 */
export const deleteTaskRoute =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    app.delete<{ Params: { taskId: string } }>('/tasks/:taskId', { schema: deleteTaskSchema }, async (req) => {
      const { taskId } = req.params;
      await guardedTask(deps, req.caller!, taskId);
      const out = await deleteTask(deps, req.caller!, taskId);
      if (!out.ok) throw new ApiError(out.status, { error: out.error, field: 'taskId' });
      return success(out.status);
    });
  };

import type { FastifyPluginAsync } from 'fastify';
import { cancelTask } from '../../services/cancel-task.js';
import type { Deps } from '../../services/deps.js';
import { ApiError, success } from '../api-error.js';
import { cancelTaskSchema } from '../schemas/tasks.js';
import { guardedTask } from '../task-guard.js';

/** POST /api/v1/tasks/{taskId}/cancel (a Longshot addition): cancel a pending task, or a running one whose engine can stop it, refunding its hold. */
export const cancelTaskRoute =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    app.post<{ Params: { taskId: string } }>('/tasks/:taskId/cancel', { schema: cancelTaskSchema }, async (req) => {
      const { taskId } = req.params;
      await guardedTask(deps, req.caller!, taskId);
      const out = await cancelTask(deps, req.caller!, taskId);
      if (!out.ok) throw new ApiError(out.status, { error: out.error, field: 'taskId' });
      return success(out.status);
    });
  };

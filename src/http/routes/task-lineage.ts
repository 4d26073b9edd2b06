import type { FastifyPluginAsync } from 'fastify';
import type { Deps } from '../../services/deps.js';
import { taskLineage } from '../../services/task-lineage.js';
import { success } from '../api-error.js';
import { lineageSchema } from '../schemas/lineage.js';
import { guardedTask } from '../task-guard.js';

/**
 * GET /api/v1/tasks/{taskId}/lineage (a Longshot addition, docs/api.md): the extension tree the
 * task belongs to, from its root generation down every branch. The task asked for goes through
 * task-guard.ts like every route that names a task (404 for another account's, 403 beyond the
 * key's permissions); the rest of the tree is the same account's by construction.
 */
export const taskLineageRoute =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Params: { taskId: string } }>('/tasks/:taskId/lineage', { schema: lineageSchema }, async (req) => {
      const { taskId } = req.params;
      await guardedTask(deps, req.caller!, taskId);
      return success(await taskLineage(deps, req.caller!, taskId, deps.clock.now()));
    });
  };

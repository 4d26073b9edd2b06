import type { FastifyPluginAsync } from 'fastify';
import { mayUseModel } from '../../services/caller.js';
import type { Deps } from '../../services/deps.js';
import { clientTaskItem, listTasks, parseListParams, type Query, readableBy } from '../../services/task-list.js';
import { ApiError, success } from '../api-error.js';

/**
 * GET /api/v1/tasks?state=&model=&limit=&cursor= (a Longshot addition, docs/contract.md §9): the
 * account's tasks that this key may read, newest first, each as statusTask's `data` (result URLs
 * signed now) plus its `model`; `nextCursor` continues, and pages stay put while tasks arrive.
 * A read: it counts against the key's status budget like statusTask.
 */
export const tasksListRoute =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Querystring: Query }>('/tasks', async (req) => {
      const parsed = parseListParams(req.query);
      if (!parsed.ok) throw new ApiError(parsed.status, { error: parsed.error, field: parsed.field });
      const { settings, accountId } = req.caller!;
      const { model } = parsed.params;
      // As statusTask answers for a model the key may not use: refused, not an empty list.
      if (model !== undefined && !mayUseModel(settings, model)) throw new ApiError(403, { error: `this API key may not use model ${model}`, field: 'model' });
      const page = await listTasks(deps.db, { ...parsed.params, accountId, ...readableBy(settings) });
      const now = deps.clock.now();
      return success({ tasks: page.rows.map((row) => clientTaskItem(row, deps, now)), nextCursor: page.nextCursor });
    });
  };

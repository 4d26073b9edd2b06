import type { FastifyPluginAsync } from 'fastify';
import { isModel } from '../../domain/models.js';
import { isFinal, type TaskState } from '../../domain/task-state.js';
import { mayUseModel } from '../../services/caller.js';
import type { Deps } from '../../services/deps.js';
import { statusResponseJson, taskStatusView } from '../../services/task-view.js';
import { ApiError } from '../api-error.js';
import type { KeyWatch } from '../key-watch.js';
import { guardedTask } from '../task-guard.js';
import { closed, holdOpen, parseWait, waitForChange } from '../wait.js';

/**
 * GET /api/v1/statusTask/{model}?taskId=[&wait=N]: the hottest route; one indexed read, no
 * writes. With `wait` (a Longshot addition, ≤ 60 s) an unfinished task's answer is held until its
 * state changes or the time is up, which replaces most polling; a key revoked meanwhile ends the
 * wait with a 401.
 */
export const statusTaskRoute =
  (deps: Deps, keys: KeyWatch): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Params: { model: string }; Querystring: { taskId?: string | string[]; wait?: string | string[] } }>('/statusTask/:model', async (req, reply) => {
      const { model } = req.params;
      if (!isModel(model)) throw new ApiError(404, { error: `unknown model ${model}` });
      // The route itself names a model: refused before any read, whatever the task id.
      if (!mayUseModel(req.caller!.settings, model)) throw new ApiError(403, { error: `this API key may not use model ${model}` });
      const taskId = req.query.taskId;
      if (taskId === undefined || taskId === '') throw new ApiError(400, { error: 'taskId is required', field: 'taskId' });
      if (typeof taskId !== 'string') throw new ApiError(400, { error: 'taskId must be given once', field: 'taskId' });
      const wait = parseWait(req.query.wait);
      // A task of another account or of the other model is answered exactly like an unknown one.
      let row = await guardedTask(deps, req.caller!, taskId, model);
      if (wait > 0 && !isFinal(row.state as TaskState)) {
        holdOpen(req.raw);
        const key = keys.hold(req.headers.authorization, closed(reply.raw));
        try {
          row = await waitForChange(deps, req.caller!.accountId, row, wait * 1000, key.signal);
        } finally {
          key.release();
        }
        if (key.revoked) throw new ApiError(401, { error: 'the API key was revoked while this request waited' });
      }
      // The same renderer as the fast path and webhooks: one body for one task state.
      reply.type('application/json; charset=utf-8');
      return statusResponseJson(taskStatusView(row, deps.signer, deps.publicUrl, deps.clock.now(), deps.config.urlTtlMs));
    });
  };

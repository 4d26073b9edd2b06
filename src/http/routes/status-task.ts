import type { FastifyPluginAsync } from 'fastify';
import type { Static } from 'typebox';
import { isModel, type Model } from '../../domain/models.js';
import { isFinal, type TaskState } from '../../domain/task-state.js';
import { mayUseModel } from '../../services/caller.js';
import type { Deps } from '../../services/deps.js';
import { queueFields } from '../../services/task-progress.js';
import { statusResponseJson, taskStatusView } from '../../services/task-view.js';
import { ApiError } from '../api-error.js';
import type { KeyWatch } from '../key-watch.js';
import { statusTaskSchema } from '../schemas/tasks.js';
import { guardedTask } from '../task-guard.js';
import { closed, holdOpen, waitForChange } from '../wait.js';

/**
 * GET /api/v1/statusTask/{model}?taskId=[&wait=N]: the hottest route; one indexed read, no
 * writes. With `wait` (a Longshot addition, ≤ 60 s) an unfinished task's answer is held until its
 * state changes or the time is up, which replaces most polling; a key revoked meanwhile ends the
 * wait with a 401.
 */
export const statusTaskRoute =
  (deps: Deps, keys: KeyWatch): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Params: { model: Model }; Querystring: Static<typeof statusTaskSchema.querystring> }>(
      '/statusTask/:model',
      {
        schema: statusTaskSchema,
        // Before the schema checks: the route itself names a model, so a key that may not use it
        // is refused before anything else, whatever the task id. An unknown model is the
        // schema's (its 404).
        preValidation: (req, _reply, done) => {
          const { model } = req.params;
          done(
            isModel(model) && !mayUseModel(req.caller!.settings, model) ? new ApiError(403, { error: `this API key may not use model ${model}` }) : undefined,
          );
        },
      },
      async (req, reply) => {
        const { model } = req.params;
        const { taskId } = req.query;
        // Digits only (the schema's pattern); empty or absent is 0.
        const wait = req.query.wait ? Number(req.query.wait) : 0;
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
        return statusResponseJson(taskStatusView(row, deps.signer, deps.publicUrl, deps.clock.now(), deps.config.urlTtlMs, await queueFields(deps, row)));
      },
    );
  };

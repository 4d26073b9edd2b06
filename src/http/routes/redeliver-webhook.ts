import type { FastifyPluginAsync } from 'fastify';
import type { Static } from 'typebox';
import type { Deps } from '../../services/deps.js';
import { redeliverTask } from '../../services/webhook-deliveries.js';
import { ApiError, success } from '../api-error.js';
import { requireJsonContentType } from '../body-rules.js';
import { redeliverSchema } from '../schemas/account.js';
import { guardedTask } from '../task-guard.js';

/**
 * POST /api/v1/webhookDeliveries/redeliver {"taskId": "..."}: sends a finished callback task's
 * webhook again, as a new delivery (new `webhook-id`, fresh retry schedule). `data` names it.
 */
export const redeliverWebhookRoute =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    app.post<{ Body: Static<typeof redeliverSchema.body> }>(
      '/webhookDeliveries/redeliver',
      {
        schema: redeliverSchema,
        // Declared JSON whatever it holds, checked before the body's schema (docs/errors.md, 400).
        preValidation: (req, _reply, done) => {
          try {
            requireJsonContentType(req.headers);
            done();
          } catch (err) {
            done(err as Error);
          }
        },
      },
      async (req) => {
        const { taskId } = req.body;
        await guardedTask(deps, req.caller!, taskId);
        const out = await redeliverTask(deps.db, req.caller!.accountId, taskId, deps.clock.now());
        if (!out.ok) throw new ApiError(out.status, { error: out.error, field: out.field });
        deps.wakeWebhooks();
        return success({ taskId: out.taskId, webhookId: out.webhookId });
      },
    );
  };

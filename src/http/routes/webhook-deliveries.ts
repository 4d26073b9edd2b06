import type { FastifyPluginAsync } from 'fastify';
import type { Static } from 'typebox';
import type { Deps } from '../../services/deps.js';
import { taskDeliveries } from '../../services/webhook-deliveries.js';
import { ApiError, success } from '../api-error.js';
import { webhookDeliveriesSchema } from '../schemas/account.js';
import { guardedTask } from '../task-guard.js';

/**
 * GET /api/v1/webhookDeliveries?taskId=: the webhook deliveries of one of the caller's tasks and
 * every attempt of each (time, status code, duration, error, next attempt). Another account's
 * task is a 404, exactly like an unknown one; a task the key's permissions do not cover, a 403.
 */
export const webhookDeliveriesRoute =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Querystring: Static<typeof webhookDeliveriesSchema.querystring> }>('/webhookDeliveries', { schema: webhookDeliveriesSchema }, async (req) => {
      const { taskId } = req.query;
      await guardedTask(deps, req.caller!, taskId);
      const out = await taskDeliveries(deps.db, req.caller!.accountId, taskId);
      if (!out.ok) throw new ApiError(out.status, { error: out.error, field: out.field });
      return success({ taskId: out.taskId, deliveries: out.deliveries });
    });
  };

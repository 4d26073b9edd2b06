import type { FastifyPluginAsync } from 'fastify';
import type { Deps } from '../../services/deps.js';
import { redeliverTask } from '../../services/webhook-deliveries.js';
import { ApiError, success } from '../api-error.js';
import { requireJsonContentType } from '../body-rules.js';
import { guardedTask } from '../task-guard.js';

/**
 * POST /api/v1/webhookDeliveries/redeliver {"taskId": "..."}: sends a finished callback task's
 * webhook again, as a new delivery (new `webhook-id`, fresh retry schedule). `data` names it.
 */
export const redeliverWebhookRoute =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    app.post('/webhookDeliveries/redeliver', async (req) => {
      requireJsonContentType(req.headers);
      const body = req.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, { error: 'body must be a JSON object', field: 'body' });
      const taskId = (body as Record<string, unknown>).taskId;
      if (taskId === undefined || taskId === null || taskId === '') throw new ApiError(400, { error: 'taskId is required', field: 'taskId' });
      if (typeof taskId !== 'string') throw new ApiError(400, { error: 'taskId must be a string', field: 'taskId' });
      await guardedTask(deps, req.caller!, taskId);
      const out = await redeliverTask(deps.db, req.caller!.accountId, taskId, deps.clock.now());
      if (!out.ok) throw new ApiError(out.status, { error: out.error, field: out.field });
      deps.wakeWebhooks();
      return success({ taskId: out.taskId, webhookId: out.webhookId });
    });
  };

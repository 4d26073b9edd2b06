import type { FastifyPluginAsync } from 'fastify';
import { isModel } from '../../domain/models.js';
import { submitTask } from '../../services/submit-task.js';
import type { Deps } from '../../services/deps.js';
import { ApiError, success } from '../api-error.js';

/** POST /api/v1/generateTask/{model}: submit a task. */
export const generateTaskRoute = (deps: Deps): FastifyPluginAsync => async (app) => {
  app.post<{ Params: { model: string } }>('/generateTask/:model', async (req) => {
    const { model } = req.params;
    if (!isModel(model)) throw new ApiError(404, { error: `unknown model ${model}` });
    const out = await submitTask(deps, req.caller!, model, req.body);
    if (out.ok) return success({ taskId: out.taskId });
    if (out.status === 402) {
      throw new ApiError(402, { error: out.error, failCode: 'INSUFFICIENT_BALANCE', required: out.requiredUsd, available: out.availableUsd });
    }
    throw new ApiError(400, { error: out.error, field: out.field, ...(out.failCode ? { failCode: out.failCode } : {}) });
  });
};

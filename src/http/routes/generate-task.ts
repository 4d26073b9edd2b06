import type { FastifyPluginAsync } from 'fastify';
import { isModel } from '../../domain/models.js';
import type { Deps } from '../../services/deps.js';
import { isValidIdempotencyKey } from '../../services/idempotency.js';
import { submitTask } from '../../services/submit-task.js';
import { ApiError, success } from '../api-error.js';
import { requireJsonContentType } from '../body-rules.js';
import { submitSchema } from '../schemas/submit.js';

/** A schema that documents only: validate-submit.ts checks the body, in its own words. */
const documentationOnly = () => () => true;

/** POST /api/v1/generateTask/{model}: submit a task. */
export const generateTaskRoute =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    app.post<{ Params: { model: string } }>('/generateTask/:model', { schema: submitSchema, validatorCompiler: documentationOnly }, async (req, reply) => {
      const { model } = req.params;
      if (!isModel(model)) throw new ApiError(404, { error: `unknown model ${model}` });
      requireJsonContentType(req.headers);
      const idem = req.headers['idempotency-key'];
      if (idem !== undefined && (typeof idem !== 'string' || !isValidIdempotencyKey(idem))) {
        throw new ApiError(400, { error: 'Idempotency-Key must be 1-255 printable ASCII characters without spaces', field: 'Idempotency-Key' });
      }
      const out = await submitTask(deps, req.caller!, model, req.body, idem === undefined ? {} : { idempotencyKey: idem });
      if (out.ok) {
        if (out.replayed) reply.header('idempotent-replayed', 'true');
        return success({ taskId: out.taskId });
      }
      switch (out.status) {
        case 400:
          throw new ApiError(400, { error: out.error, field: out.field, ...(out.failCode ? { failCode: out.failCode } : {}) });
        case 402:
          throw new ApiError(402, {
            error: out.error,
            failCode: 'INSUFFICIENT_BALANCE',
            required: out.requiredUsd,
            available: out.availableUsd,
            ...(out.budget ? { budget: out.budget } : {}),
          });
        case 403:
          throw new ApiError(403, { error: out.error, ...(out.field ? { field: out.field } : {}) });
        case 422:
          throw new ApiError(422, { error: out.error, field: out.field });
        case 429:
          throw new ApiError(429, { error: out.error, retryAfter: out.retryAfter });
      }
    });
  };

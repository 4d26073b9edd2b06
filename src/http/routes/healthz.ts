import type { FastifyPluginAsync } from 'fastify';
import { envelope, success } from '../api-error.js';

/** Readiness for load balancers and process managers: 200 only once the service can take tasks. */
export const healthRoute = (isReady: () => boolean): FastifyPluginAsync => async (app) => {
  app.get('/healthz', async (_req, reply) => {
    if (!isReady()) return reply.code(503).send(envelope(503, { error: 'starting up' }));
    return success({ status: 'ok' });
  });
};

import type { FastifyPluginAsync, FastifySchema } from 'fastify';
import type { Deps } from '../../services/deps.js';
import { requireAdmin } from '../admin-guard.js';

const TEXT_FORMAT = 'text/plain; version=0.0.4; charset=utf-8';

/** For the OpenAPI document; the text is sent as it is (a string with its own content type is never serialized). */
const metricsSchema = {
  operationId: 'metrics',
  summary: "This process's Prometheus metrics",
  description:
    'The text exposition format 0.0.4: tasks, durations, queue, engines, webhooks, HTTP requests, money captured and Node process metrics (docs/operations.md#metrics). The admin token, unless LONGSHOT_METRICS_PUBLIC=true.',
  response: { 200: { description: 'The metrics.', content: { [TEXT_FORMAT]: { schema: { type: 'string' } } } } },
};

/**
 * GET /metrics: this process's Prometheus metrics (docs/operations.md#metrics). Operator data
 * (queue, money, engines), so it takes the admin token, unless LONGSHOT_METRICS_PUBLIC=true
 * opens it for a scraper on a private network.
 */
export const metricsRoute =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    const onRequest = deps.config.metricsPublic ? [] : [requireAdmin(deps.admin)];
    app.get('/metrics', { onRequest, schema: metricsSchema as FastifySchema }, async (_req, reply) => {
      const text = await deps.metrics.registry.metrics();
      return reply.header('cache-control', 'no-store').type(TEXT_FORMAT).send(text);
    });
  };

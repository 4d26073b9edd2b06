import type { FastifyPluginAsync, FastifySchema } from 'fastify';
import type { EngineStanding } from '../../engines/health.js';
import { envelope, success } from '../api-error.js';
import { healthSchema } from '../schemas/service.js';

/**
 * Readiness for load balancers and process managers: 200 only once the service can take tasks.
 * `degraded` (still 200: the service takes tasks, and routes skip the engine) when a configured
 * upstream engine is unavailable or its breaker is open; which, and why in client-safe words.
 * Reads memory only: the standings are this process's own or a cached copy of the workers'.
 */
export const healthRoute =
  (isReady: () => boolean, standings: () => EngineStanding[], now: () => number): FastifyPluginAsync =>
  async (app) => {
    // Typed loosely: the schema's error responses are not a list of the codes this handler may send.
    app.get('/healthz', { schema: healthSchema as FastifySchema }, async (_req, reply) => {
      if (!isReady()) return reply.code(503).send(envelope(503, { error: 'starting up' }));
      const at = now();
      const down = standings()
        .filter((s) => !s.available || (s.openUntil !== null && s.openUntil > at))
        .map((s) => ({
          engine: s.engine,
          reason: s.available
            ? `failed ${s.consecutiveFailures} times in a row; skipped until ${new Date(s.openUntil!).toISOString()}`
            : (s.summary ?? 'unavailable'),
        }));
      return success(down.length === 0 ? { status: 'ok' } : { status: 'degraded', engines: down });
    });
  };

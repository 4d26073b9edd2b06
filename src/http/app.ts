import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, LogController } from 'fastify';
import { RATE_WINDOW_MS, type RateDecision, type RateLimiter, rateLimitHeaders } from '../limits/rate-limiter.js';
import { type Caller, effectiveLimits } from '../services/caller.js';
import type { Deps } from '../services/deps.js';
import { adminRoutes } from './admin/admin-routes.js';
import { adminTasksRoutes } from './admin-tasks.js';
import { ApiError, envelope } from './api-error.js';
import type { AuthContext, Authenticator } from './auth.js';
import { contentEncodingRefusal, installJsonParser } from './body-rules.js';
import { clientErrorHandler, noteRequest } from './client-errors.js';
import { createKeyWatch } from './key-watch.js';
import { installOpenApi } from './openapi.js';
import { logCompleted, requestIdOf } from './request-log.js';
import { accountLedgerRoute } from './routes/account-ledger.js';
import { cancelTaskRoute } from './routes/cancel-task.js';
import { consoleRoute } from './routes/console.js';
import { currentBalanceRoute } from './routes/current-balance.js';
import { deleteTaskRoute } from './routes/delete-task.js';
import { eventsRoute } from './routes/events.js';
import { filesRoute } from './routes/files.js';
import { generateTaskRoute } from './routes/generate-task.js';
import { healthRoute } from './routes/healthz.js';
import { mcpRoute } from './routes/mcp.js';
import { metricsRoute } from './routes/metrics.js';
import { modelsRoute } from './routes/models.js';
import { playgroundRoute } from './routes/playground.js';
import { redeliverWebhookRoute } from './routes/redeliver-webhook.js';
import { statusTaskRoute } from './routes/status-task.js';
import { taskLineageRoute } from './routes/task-lineage.js';
import { tasksListRoute } from './routes/tasks-list.js';
import { usageRoute } from './routes/usage.js';
import { webhookDeliveriesRoute } from './routes/webhook-deliveries.js';
import { AJV_OPTIONS, formatSchemaError } from './schema-errors.js';
import { tagConnections } from './shutdown.js';
import { countedDecision, statusFastPath } from './status-fast-path.js';
import { isHeldOpen } from './wait.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: AuthContext | null;
  }
}

export interface AppOptions {
  deps: Deps;
  auth: Authenticator;
  /** Per-key request counting (in-memory for one process, Redis for many). */
  limiter: RateLimiter;
  /** False until the database is migrated and workers run; /healthz answers 503 meanwhile. */
  isReady: () => boolean;
}

/**
 * The HTTP edge. Request logging is off (it halves throughput); errors, slow requests and a
 * sample of the rest are logged from one onResponse hook instead.
 */
export function buildApp(opts: AppOptions): FastifyInstance {
  const { deps } = opts;
  const limits = deps.config.http;
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    // A child logger per request costs more than the rest of a status read; the few lines we
    // log carry the request id themselves.
    childLoggerFactory: (logger) => logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.config.bodyLimitBytes,
    genReqId: requestIdOf,
    // docs/contract.md §1: no coercion, `"prompt": 1` is a 400; refusals name the field (schema-errors.ts).
    ajv: AJV_OPTIONS,
    schemaErrorFormatter: formatSchemaError,
    return503OnClosing: true,
    // Slow clients (docs/operations.md#slow-clients). These bound receiving a request only: an
    // answer held open on purpose (wait=, SSE) is not cut by them. No socket inactivity timeout
    // (`connectionTimeout`) for the same reason: a long-poll is silent for up to 60 s.
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    http: {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      // How often Node checks both deadlines; its default of 30 s would let a slow client
      // outlive its deadline by up to that much.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 2))),
    },
    clientErrorHandler: clientErrorHandler(deps.log as FastifyBaseLogger, limits),
  });
  // Over the cap Node closes a new connection at once, before it costs a parser or a timer.
  if (limits.maxConnections > 0) app.server.maxConnections = limits.maxConnections;
  endHeldAnswersOnClose(app);
  installJsonParser(app);
  // Before any route: the document is built from the routes as they are registered.
  installOpenApi(app);

  app.decorateRequest('caller', null);
  installFastPath(app, statusFastPath(deps, opts.auth, opts.limiter), deps);
  const enforceRateLimit = rateLimitEnforcer(deps, opts.limiter);
  // Hooks on every request are callback-style: an async hook costs a promise per request.
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    const refused = contentEncodingRefusal(req.headers);
    if (refused) reply.header('accept-encoding', 'identity');
    done(refused ?? undefined);
  });
  app.addHook('onResponse', (req, reply, done) => {
    const ms = isHeldOpen(req.raw) ? null : reply.elapsedTime;
    logCompleted(deps, req, reply.statusCode, ms);
    // By route pattern (never the raw URL, which would make a series per task id).
    deps.metrics.http.slot(req.routeOptions.url ?? 'unmatched', reply.statusCode).record(ms === null ? null : ms / 1000);
    done();
  });

  app.setErrorHandler((err: FastifyError | ApiError, req, reply) => {
    const { status, data } = toErrorResponse(err);
    if (status >= 500) req.log.error({ err, reqId: req.id, method: req.method, url: req.url }, 'request failed');
    if (data?.retryAfter !== undefined) reply.header('retry-after', String(data.retryAfter));
    reply.code(status).type('application/json').send(envelope(status, data));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(envelope(404, { error: `no route for ${req.method} ${req.url.split('?')[0]}` }));
  });

  app.register(healthRoute(opts.isReady, deps.engineStandings, () => deps.clock.now()));
  app.register(playgroundRoute());
  app.register(consoleRoute());
  app.register(filesRoute(deps));
  app.register(metricsRoute(deps));
  app.register(modelsRoute(deps));
  // MCP over Streamable HTTP, authenticated like /api/v1 by the caller's key (docs/mcp.md).
  app.register(mcpRoute(opts.auth));
  app.register(
    async (api) => {
      api.addHook('onRequest', (req, reply, done) => {
        const admit = (caller: AuthContext | null): Promise<void> | void => {
          if (!caller) throw new ApiError(401, { error: 'Authorization must be "Bearer <API key>" with a valid, unrevoked key' });
          req.caller = caller;
          // HEAD is a GET without the body: a read, like GET (docs/contract.md §7).
          return enforceRateLimit(req.method === 'GET' || req.method === 'HEAD' ? 'status' : 'submit', caller, reply);
        };
        // A cached key with no limit to count is decided without a promise (the polling hot path).
        try {
          const known = opts.auth.cached(req.headers.authorization);
          const pending = known === undefined ? opts.auth.authenticate(req.headers.authorization).then(admit) : admit(known);
          if (pending) pending.then(() => done(), done);
          else done();
        } catch (err) {
          done(err as Error);
        }
      });
      api.register(generateTaskRoute(deps));
      // Held requests (long-poll, SSE) end when their key is revoked while they wait.
      const keys = createKeyWatch(opts.auth);
      api.register(statusTaskRoute(deps, keys));
      api.register(currentBalanceRoute(deps));
      api.register(cancelTaskRoute(deps));
      api.register(accountLedgerRoute(deps));
      api.register(eventsRoute(deps, keys));
      api.register(webhookDeliveriesRoute(deps));
      api.register(redeliverWebhookRoute(deps));
      api.register(tasksListRoute(deps));
      api.register(taskLineageRoute(deps));
      api.register(deleteTaskRoute(deps));
      api.register(usageRoute(deps));
    },
    { prefix: '/api/v1' },
  );
  // The operator's API: accounts, keys, engines (docs/api.md, admin API), behind the admin token.
  app.register(adminRoutes(deps), { prefix: '/admin/v1' });
  // Operator routes of tasks and usage; the other admin routes share the prefix in their own plugin.
  app.register(adminTasksRoutes(deps), { prefix: '/admin/v1' });
  return app;
}

/**
 * docs/contract.md §7: writes (submits, redeliveries) count against the key's submit limit, reads
 * against its status limit, per minute. Every counted response carries the IETF draft headers.
 */
function rateLimitEnforcer(deps: Deps, limiter: RateLimiter) {
  /** Nothing to wait for (no promise) when the key has no limit for this bucket. */
  return (bucket: 'submit' | 'status', caller: Caller, reply: FastifyReply): Promise<void> | void => {
    const limits = effectiveLimits(caller.settings, deps.config);
    const limit = bucket === 'submit' ? limits.submitRpm : limits.statusRpm;
    if (limit <= 0) return;
    const enforce = (decision: RateDecision): void => {
      reply.headers(rateLimitHeaders(bucket, decision, RATE_WINDOW_MS));
      if (!decision.allowed) {
        const retryAfter = Math.max(1, Math.ceil(decision.resetMs / 1000));
        throw new ApiError(429, { error: `this API key may make ${limit} ${bucket} requests per minute`, retryAfter });
      }
    };
    const already = countedDecision(reply.request.raw);
    if (already) return enforce(already);
    return limiter.hit(bucket, caller.keyId, limit, RATE_WINDOW_MS, deps.clock.now()).then(enforce);
  };
}

/**
 * Puts the status fast path in front of Fastify's own request listener on the same server, so
 * the server keeps every setting Fastify gives it; whatever the fast path declines goes on to
 * Fastify untouched.
 */
function installFastPath(app: FastifyInstance, fast: ReturnType<typeof statusFastPath>, deps: Deps): void {
  const server = app.server;
  const listeners = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  const decline = (req: IncomingMessage, res: ServerResponse) => {
    for (const listener of listeners) listener(req, res);
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    noteRequest(req, res);
    try {
      if (fast.handle(req, res, decline)) return;
    } catch (err) {
      // Nothing has been sent yet: Fastify answers (and logs a 500 if the fault persists).
      deps.log.error({ err, method: req.method, url: req.url }, 'status fast path failed');
      if (res.headersSent) return;
    }
    decline(req, res);
  });
  app.addHook('preClose', (done) => {
    fast.close();
    done();
  });
}

/**
 * A graceful stop answers held long-polls with the task's current state and ends SSE streams
 * (wait.ts `closed()`), so they neither hold the shutdown nor are cut at its grace period.
 */
function endHeldAnswersOnClose(app: FastifyInstance): void {
  const closing = new AbortController();
  tagConnections(app.server, closing.signal);
  app.addHook('preClose', (done) => {
    closing.abort();
    done();
  });
}

/** Maps any error to a status and the envelope's `data`; internal details never leave the process. */
function toErrorResponse(err: FastifyError | ApiError): { status: number; data: ApiError['detail'] } {
  if (err instanceof ApiError) return { status: err.status, data: err.detail };
  const code = (err as FastifyError).code;
  switch (code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 400, data: { error: 'Content-Type must be application/json', field: 'Content-Type' } };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, data: { error: 'body must be a JSON object', field: 'body' } };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, data: { error: 'Content-Length does not match the body', field: 'Content-Length' } };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, data: { error: 'the request body is over the size limit' } };
  }
  if (err instanceof SyntaxError || code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (err as FastifyError).statusCode === 400) {
    return { status: 400, data: { error: 'body is not valid JSON', field: 'body' } };
  }
  const status = (err as FastifyError).statusCode;
  if (status && status >= 400 && status < 500) return { status, data: { error: err.message } };
  return { status: 500, data: { error: 'an internal error occurred; it has been logged' } };
}

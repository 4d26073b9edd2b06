import type { IncomingMessage, ServerResponse } from 'node:http';
import { findTaskStatusNow, readTaskStatus, type StatusRead } from '../db/tasks-repo.js';
import { isModel } from '../domain/models.js';
import { RATE_WINDOW_MS, type RateDecision, type RateLimiter, rateLimitHeaders } from '../limits/rate-limiter.js';
import { type Caller, effectiveLimits, mayUseModel, taskRefusal } from '../services/caller.js';
import type { Deps } from '../services/deps.js';
import { type QueueFields, queueFields, queueFieldsNow } from '../services/task-progress.js';
import { statusResponseJson, taskStatusView } from '../services/task-view.js';
import { signedExpiry } from '../storage/url-signer.js';
import type { Authenticator } from './auth.js';
import { logCompleted, requestIdOf } from './request-log.js';

const PREFIX = '/api/v1/statusTask/';
/** The route pattern Fastify reports for the same request (status-task.ts), the metrics' `route` label. */
const ROUTE = '/api/v1/statusTask/:model';
const JSON_TYPE = 'application/json; charset=utf-8';
/** Exactly `?taskId=<task id>` (32 hex); anything else (wait=, repeats, escapes) takes the full route. */
const QUERY = /^taskId=([0-9a-f]{32})$/;

/** Requests the fast path already counted against a rate limit before handing them on. */
const counted = new WeakMap<IncomingMessage, RateDecision>();
export const countedDecision = (req: IncomingMessage): RateDecision | undefined => counted.get(req);

interface Rendered {
  /** The signed URLs' expiry the body was rendered with (they change once a minute). */
  expires: number;
  /** The queue fields it was rendered with: they change without the row (other tasks move). */
  queue: QueueFields;
  /** The database's commit epoch when they were counted (db/connect.ts commitEpoch). */
  epoch: number | undefined;
  body: string;
  len: number;
}

/** The response body of a read, kept with the row (`derived`) while its URLs' expiry and queue fields hold. */
function rendered(found: StatusRead, deps: Deps, queue: QueueFields, epoch: number | undefined): Rendered {
  const now = deps.clock.now();
  const expires = signedExpiry(now + deps.config.urlTtlMs);
  const kept = found.derived as Rendered | undefined;
  if (kept !== undefined && kept.expires === expires && kept.queue.queuePosition === queue.queuePosition && kept.queue.etaSeconds === queue.etaSeconds) {
    kept.epoch = epoch; // counted again, the same: good until the next commit
    return kept;
  }
  const body = statusResponseJson(taskStatusView(found.row, deps.signer, deps.publicUrl, now, deps.config.urlTtlMs, queue));
  const fresh = { expires, queue, epoch, body, len: Buffer.byteLength(body) };
  found.derived = fresh;
  return fresh;
}

/** Hands a request the fast path did not answer to Fastify (app.ts). */
export type Decline = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The polling hot path: a plain status read (`GET /api/v1/statusTask/{model}?taskId=…`, cached
 * key, no `wait`) answered from the task read caches (SQLite's, synchronously; PostgreSQL's row
 * cache, or one round trip when the row is not kept), without Fastify's routing, hook and promise
 * machinery, which cost more than the read itself. It answers only the ordinary success: the same
 * body (bytes) and headers the statusTask route sends. Everything else — an uncached or refused
 * key, a 404, a task the key may not use (the route's 403), a refusal by a rate limit, a
 * long-poll — goes to Fastify as before: `handle` returns false when it knows at once, or
 * returns true and later passes the request to `decline` when a PostgreSQL read decides so.
 */
export function statusFastPath(deps: Deps, auth: Authenticator, limiter: RateLimiter) {
  let open = true;
  // Bound once: counting a poll is then two additions (metrics/http-tally.ts).
  const served = deps.metrics.http.slot(ROUTE, 200);
  /** The task guard's own question (task-guard.ts): whether this key may read this task on this model's route. */
  const usable = (found: StatusRead | undefined, caller: Caller, model: string): found is StatusRead =>
    found !== undefined && found.row.model === model && taskRefusal(caller.settings, found.row) === null;
  const limitOf = (caller: Caller): number => effectiveLimits(caller.settings, deps.config).statusRpm;

  /** Sends the route's 200 for `found` (`decision`: the rate limit's count, null when unlimited). */
  const respond = (req: IncomingMessage, res: ServerResponse, started: number, found: StatusRead, queue: QueueFields, decision: RateDecision | null): void => {
    const limitHeaders = decision === null ? null : rateLimitHeaders('status', decision, RATE_WINDOW_MS);
    const { body, len } = rendered(found, deps, queue, deps.db.commitEpoch?.());
    const id = requestIdOf(req);
    // One writeHead with a flat list of every header (the order the route sends them in) costs
    // less than setHeader per header or an object built up key by key.
    res.writeHead(
      200,
      limitHeaders === null
        ? ['x-request-id', id, 'content-type', JSON_TYPE, 'content-length', len]
        : [
            'x-request-id',
            id,
            'ratelimit-policy',
            limitHeaders['ratelimit-policy']!,
            'ratelimit',
            limitHeaders.ratelimit!,
            'content-type',
            JSON_TYPE,
            'content-length',
            len,
          ],
    );
    res.end(body);
    const ms = performance.now() - started;
    served.record(ms / 1000);
    logCompleted(deps, { id, method: 'GET', url: req.url! }, 200, ms);
  };

  /** A refused count is kept for the full route, which answers the 429 with it instead of counting again. */
  const refused = (req: IncomingMessage, decision: RateDecision): boolean => {
    if (decision.allowed) return false;
    counted.set(req, decision);
    return true;
  };

  /** The queue fields kept with the row while nothing was committed since they were counted, else counted now (null: needs a promise). */
  const queueNow = (found: StatusRead): QueueFields | null => {
    const epoch = deps.db.commitEpoch?.();
    const kept = found.derived as Rendered | undefined;
    return kept !== undefined && epoch !== undefined && kept.epoch === epoch ? kept.queue : queueFieldsNow(deps, found.row);
  };

  /** PostgreSQL, a row not kept or a pending task: one round trip (or two), still without Fastify. */
  const later = async (
    req: IncomingMessage,
    res: ServerResponse,
    started: number,
    caller: Caller,
    model: string,
    taskId: string,
    kept: StatusRead | null,
    decline: Decline,
  ) => {
    let handled = false;
    try {
      const found = kept ?? (await readTaskStatus(deps.db, caller.accountId, taskId));
      if (usable(found, caller, model)) {
        const queue = queueNow(found) ?? (await queueFields(deps, found.row));
        const limit = limitOf(caller);
        // A limiter that needs a round trip (Redis, shared by every API process) is asked here.
        const decision =
          limit > 0
            ? (limiter.hitNow?.('status', caller.keyId, limit, RATE_WINDOW_MS, deps.clock.now()) ??
              (await limiter.hit('status', caller.keyId, limit, RATE_WINDOW_MS, deps.clock.now())))
            : null;
        if (open && !(decision !== null && refused(req, decision))) {
          respond(req, res, started, found, queue, decision);
          handled = true;
        }
      }
    } catch (err) {
      deps.log.error({ err, method: req.method, url: req.url }, 'status fast path failed');
      if (res.headersSent) return;
    }
    if (!handled) decline(req, res);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, decline?: Decline): boolean => {
    const url = req.url!;
    if (!open || req.method !== 'GET' || !url.startsWith(PREFIX)) return false;
    const started = performance.now();
    const q = url.indexOf('?', PREFIX.length);
    if (q < 0) return false;
    const model = url.slice(PREFIX.length, q);
    const taskId = QUERY.exec(url.slice(q + 1))?.[1];
    if (taskId === undefined || !isModel(model)) return false;
    const caller = auth.cached(req.headers.authorization);
    if (!caller || !mayUseModel(caller.settings, model)) return false;
    const found = findTaskStatusNow(deps.db, caller.accountId, taskId);
    if (found !== null && !usable(found, caller, model)) return false;
    // A finished task answers at once; a pending one costs one indexed count (its queue position),
    // unless nothing at all was committed since the count kept with its row.
    const queue = found === null ? null : queueNow(found);
    const limit = limitOf(caller);
    if (found === null || queue === null || (limit > 0 && !limiter.hitNow)) {
      // What needs a round trip (PostgreSQL, Redis) is done without Fastify too, where it can hand the request back.
      if (decline === undefined || ((found === null || queue === null) && deps.db.selectTask === undefined)) return false;
      void later(req, res, started, caller, model, taskId, found, decline);
      return true;
    }
    const decision = limit > 0 ? limiter.hitNow!('status', caller.keyId, limit, RATE_WINDOW_MS, deps.clock.now()) : null;
    if (decision !== null && refused(req, decision)) return false;
    respond(req, res, started, found, queue, decision);
    return true;
  };
  return {
    handle,
    /** Called when the server starts closing: Fastify then answers 503 to new requests. */
    close: () => {
      open = false;
    },
  };
}

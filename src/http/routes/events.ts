import type { FastifyPluginAsync } from 'fastify';
import type { TaskStatusRow } from '../../db/tasks-repo.js';
import { isFinal, type TaskState } from '../../domain/task-state.js';
import type { Deps } from '../../services/deps.js';
import { queueFields } from '../../services/task-progress.js';
import { taskStatusView } from '../../services/task-view.js';
import { envelope } from '../api-error.js';
import type { KeyWatch } from '../key-watch.js';
import { eventsSchema } from '../schemas/tasks.js';
import { guardedTask } from '../task-guard.js';
import { closed, holdOpen, waitForChange } from '../wait.js';

/** A new state or progress; a pending task's queue moves without its row, so every re-read counts. */
const movedOn = (a: TaskStatusRow, b: TaskStatusRow): boolean => a.state !== b.state || a.progress !== b.progress || b.state === 'pending';

/** A comment line keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

/**
 * GET /api/v1/events/{taskId} (a Longshot addition): Server-Sent Events for one task. Each state
 * is sent as `event: status` whose data is the status route's `data`; the stream ends after a
 * final state. Works for both models. A key revoked while the stream is open ends it with one
 * `event: revoked` whose data is the 401 envelope a new request would get.
 */
export const eventsRoute =
  (deps: Deps, keys: KeyWatch): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Params: { taskId: string } }>('/events/:taskId', { schema: eventsSchema }, async (req, reply) => {
      const accountId = req.caller!.accountId;
      let row = await guardedTask(deps, req.caller!, req.params.taskId);

      const res = reply.raw;
      holdOpen(req.raw);
      const key = keys.hold(req.headers.authorization, closed(res));
      reply.hijack(); // from here on the stream is ours; Fastify sends nothing more
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-request-id': String(req.id),
        'x-accel-buffering': 'no',
      });
      // An event whenever the data changes: the state, the progress, or (re-read at least every
      // 2 s, wait.ts) a pending task's queue position and estimate.
      let sent = '';
      let wroteAt = performance.now();
      const send = async (r: TaskStatusRow) => {
        const data = JSON.stringify(taskStatusView(r, deps.signer, deps.publicUrl, deps.clock.now(), deps.config.urlTtlMs, await queueFields(deps, r)));
        if (data === sent) return;
        sent = data;
        wroteAt = performance.now();
        res.write(`event: status\nid: ${r.state}\ndata: ${data}\n\n`);
      };
      try {
        await send(row);
        while (!isFinal(row.state as TaskState) && !key.signal.aborted) {
          const left = Math.max(1, HEARTBEAT_MS - (performance.now() - wroteAt));
          const next = await waitForChange(deps, accountId, row, left, key.signal, movedOn);
          if (key.signal.aborted) break;
          await send(next);
          if (performance.now() - wroteAt >= HEARTBEAT_MS) {
            res.write(': keep-alive\n\n');
            wroteAt = performance.now();
          }
          row = next;
        }
      } finally {
        key.release();
      }
      if (key.revoked) res.write(`event: revoked\ndata: ${JSON.stringify(envelope(401, { error: 'the API key was revoked while this stream was open' }))}\n\n`);
      res.end();
    });
  };

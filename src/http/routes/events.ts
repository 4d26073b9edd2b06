import type { FastifyPluginAsync } from 'fastify';
import { isTaskId } from '../../domain/ids.js';
import { isFinal, type TaskState } from '../../domain/task-state.js';
import { findTaskStatus, type TaskStatusRow } from '../../db/tasks-repo.js';
import { taskStatusView } from '../../services/task-view.js';
import type { Deps } from '../../services/deps.js';
import { ApiError } from '../api-error.js';
import { closed, holdOpen, waitForChange } from '../wait.js';

/** A comment line keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

/**
 * GET /api/v1/events/{taskId} (a Longshot addition): Server-Sent Events for one task. Each state
 * is sent as `event: status` whose data is the status route's `data`; the stream ends after a
 * final state. Works for both models.
 */
export const eventsRoute = (deps: Deps): FastifyPluginAsync => async (app) => {
  app.get<{ Params: { taskId: string } }>('/events/:taskId', async (req, reply) => {
    const { taskId } = req.params;
    const accountId = req.caller!.accountId;
    let row = isTaskId(taskId) ? await findTaskStatus(deps.db, accountId, taskId) : undefined;
    if (!row) throw new ApiError(404, { error: `no task ${taskId}`, field: 'taskId' });

    const res = reply.raw;
    holdOpen(req.raw);
    const gone = closed(res);
    reply.hijack(); // from here on the stream is ours; Fastify sends nothing more
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-request-id': String(req.id),
      'x-accel-buffering': 'no',
    });
    const send = (r: TaskStatusRow) => {
      const data = taskStatusView(r, deps.signer, deps.publicUrl, deps.clock.now(), deps.config.urlTtlMs);
      res.write(`event: status\nid: ${r.state}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    send(row);
    while (!isFinal(row.state as TaskState) && !gone.aborted) {
      const next = await waitForChange(deps, accountId, row, HEARTBEAT_MS, gone);
      if (gone.aborted) break;
      if (next.state === row.state) res.write(': keep-alive\n\n');
      else send(next);
      row = next;
    }
    res.end();
  });
};

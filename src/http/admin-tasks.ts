import type { FastifyPluginAsync } from 'fastify';
import { accountNames, findAccountByIdOrName, keyAccount } from '../db/task-list-repo.js';
import type { Deps } from '../services/deps.js';
import { taskDetail } from '../services/task-detail.js';
import { adminTaskItem, listTasks, parseAdminListParams, type Query } from '../services/task-list.js';
import { operatorUsage, parseDayRange } from '../services/usage.js';
import { requireAdmin } from './admin-guard.js';
import { ApiError, success } from './api-error.js';
import { single } from './routes/usage.js';

/**
 * The operator's view of tasks and usage across accounts, under /admin/v1 beside the rest of the
 * admin API (its own plugin: the paths differ, the guard is the same). Every route needs the
 * admin token; an API key is refused like no token, with a 401.
 */
export const adminTasksRoutes =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    app.addHook('onRequest', requireAdmin(deps.admin));

    // GET /admin/v1/tasks?account=&key=&state=&model=&engine=&from=&to=&limit=&cursor=
    app.get<{ Querystring: Query }>('/tasks', async (req) => {
      const parsed = parseAdminListParams(req.query);
      if (!parsed.ok) throw new ApiError(parsed.status, { error: parsed.error, field: parsed.field });
      const { account, key, ...rest } = parsed.params;
      // A filter naming nothing is a typo, not an empty result: say so.
      const found = account === undefined ? undefined : await findAccountByIdOrName(deps.db, account);
      if (account !== undefined && !found) throw new ApiError(404, { error: `no account ${account} (give its id or name)`, field: 'account' });
      if (key !== undefined && !(await keyAccount(deps.db, key))) throw new ApiError(404, { error: `no API key ${key}`, field: 'key' });
      const page = await listTasks(deps.db, { ...rest, ...(found ? { accountId: found.id } : {}), ...(key === undefined ? {} : { apiKeyId: key }) });
      const names = await accountNames(deps.db, [...new Set(page.rows.map((r) => r.account_id))]);
      const now = deps.clock.now();
      return success({ tasks: page.rows.map((row) => adminTaskItem(row, deps, now, names)), nextCursor: page.nextCursor });
    });

    // GET /admin/v1/tasks/{taskId}: one task with its ledger, webhooks, upstream job and lineage.
    app.get<{ Params: { taskId: string } }>('/tasks/:taskId', async (req) => {
      const detail = await taskDetail(deps, req.params.taskId, deps.clock.now());
      if (!detail) throw new ApiError(404, { error: `no task ${req.params.taskId}`, field: 'taskId' });
      return success(detail);
    });

    // GET /admin/v1/usage?from=&to=&account=: per day × account × model × engine.
    app.get<{ Querystring: Query }>('/usage', async (req) => {
      const range = parseDayRange(single(req.query.from, 'from'), single(req.query.to, 'to'), deps.clock.now());
      if (!range.ok) throw new ApiError(range.status, { error: range.error, field: range.field });
      const account = single(req.query.account, 'account');
      const found = account === undefined ? undefined : await findAccountByIdOrName(deps.db, account);
      if (account !== undefined && !found) throw new ApiError(404, { error: `no account ${account} (give its id or name)`, field: 'account' });
      return success(await operatorUsage(deps.db, range.range, found?.id));
    });
  };

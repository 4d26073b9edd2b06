import type { FastifyPluginAsync } from 'fastify';
import type { Deps } from '../../services/deps.js';
import { accountUsage, parseDayRange } from '../../services/usage.js';
import { ApiError, success } from '../api-error.js';

type Param = string | string[] | undefined;

/**
 * GET /api/v1/usage?from=&to= (a Longshot addition, docs/contract.md §9): the account's tasks,
 * successes, failures, video seconds and spend per UTC day, and the totals. Spend is the
 * account's ledger (captured holds), so it adds up with the balance; it covers the whole account,
 * like the balance, whichever key asks.
 */
export const usageRoute =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Querystring: { from?: Param; to?: Param } }>('/usage', async (req) => {
      const range = parseDayRange(single(req.query.from, 'from'), single(req.query.to, 'to'), deps.clock.now());
      if (!range.ok) throw new ApiError(range.status, { error: range.error, field: range.field });
      return success(await accountUsage(deps.db, req.caller!.accountId, range.range));
    });
  };

/** One value, or absent when empty; a repeated parameter is a 400 naming it. */
export function single(v: Param, name: string): string | undefined {
  if (Array.isArray(v)) throw new ApiError(400, { error: `${name} must be given once`, field: name });
  return v === '' ? undefined : v;
}

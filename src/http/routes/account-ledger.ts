import type { FastifyPluginAsync } from 'fastify';
import { listLedger } from '../../db/ledger-repo.js';
import { microsToUsd } from '../../domain/money.js';
import type { Deps } from '../../services/deps.js';
import { ApiError, success } from '../api-error.js';

const MAX_LIMIT = 200;

/**
 * GET /api/v1/account/ledger?cursor=&limit= (a Longshot addition): the account's ledger entries,
 * newest first — credits, holds, captures and releases with their task ids.
 */
export const accountLedgerRoute =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Querystring: { cursor?: string; limit?: string } }>('/account/ledger', async (req) => {
      const { cursor, limit: rawLimit } = req.query;
      // Digits only: Number() would also take "0x10", " 5" and "1e1".
      const limit = rawLimit === undefined ? 50 : typeof rawLimit === 'string' && /^\d{1,3}$/.test(rawLimit) ? Number(rawLimit) : NaN;
      if (!(limit >= 1 && limit <= MAX_LIMIT)) {
        throw new ApiError(400, { error: `limit must be a whole number from 1 to ${MAX_LIMIT} in decimal digits`, field: 'limit' });
      }
      if (cursor !== undefined && !/^\d{1,15}$/.test(cursor)) throw new ApiError(400, { error: 'cursor is not one this API returned', field: 'cursor' });
      const rows = await listLedger(deps.db, req.caller!.accountId, { limit, ...(cursor ? { beforeId: Number(cursor) } : {}) });
      return success({
        entries: rows.map((r) => ({
          id: String(r.id),
          kind: r.kind,
          amount: microsToUsd(r.amount_micros),
          taskId: r.task_id,
          note: r.note,
          createTime: r.created_at,
        })),
        nextCursor: rows.length === limit ? String(rows[rows.length - 1]!.id) : null,
      });
    });
  };

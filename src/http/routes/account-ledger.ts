import type { FastifyPluginAsync } from 'fastify';
import type { Static } from 'typebox';
import { listLedger } from '../../db/ledger-repo.js';
import type { Deps } from '../../services/deps.js';
import { ledgerEntryView } from '../../services/ledger-view.js';
import { success } from '../api-error.js';
import { ledgerSchema } from '../schemas/account.js';

/**
 * GET /api/v1/account/ledger?cursor=&limit= (a Longshot addition): the account's ledger entries,
 * newest first — credits, holds, captures and releases with their task ids.
 */
export const accountLedgerRoute =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Querystring: Static<typeof ledgerSchema.querystring> }>('/account/ledger', { schema: ledgerSchema }, async (req) => {
      const { cursor } = req.query;
      // The schema let through decimal digits only (Number() alone would also take "0x10", " 5" and "1e1").
      const limit = req.query.limit === undefined ? 50 : Number(req.query.limit);
      const rows = await listLedger(deps.db, req.caller!.accountId, { limit, ...(cursor ? { beforeId: Number(cursor) } : {}) });
      return success({
        entries: rows.map(ledgerEntryView),
        nextCursor: rows.length === limit ? String(rows[rows.length - 1]!.id) : null,
      });
    });
  };

import type { FastifyPluginAsync } from 'fastify';
import { getBalance } from '../../db/ledger-repo.js';
import { microsToUsd } from '../../domain/money.js';
import type { Deps } from '../../services/deps.js';
import { success } from '../api-error.js';
import { currentBalanceSchema } from '../schemas/account.js';

/** GET /api/v1/apikeys/current-balance: `data` is the available balance in USD, a bare number. */
export const currentBalanceRoute =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    app.get('/apikeys/current-balance', { schema: currentBalanceSchema }, async (req) => {
      const balance = await getBalance(deps.db, req.caller!.accountId);
      return success(microsToUsd(balance?.availableMicros ?? 0));
    });
  };

import type { FastifyPluginAsync } from 'fastify';
import { accountLedger, createAccountAsOperator, creditAccount, listAccountViews, showAccount } from '../../admin/accounts.js';
import type { Deps } from '../../services/deps.js';
import { ledgerEntryView } from '../../services/ledger-view.js';
import { success } from '../api-error.js';
import { requireJsonContentType } from '../body-rules.js';
import { answer } from './answer.js';

/** `/admin/v1/accounts…`: create, list, show (balances), credit, and the ledger of any account. */
export const accountRoutes =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    app.get('/accounts', async () => success({ accounts: await listAccountViews(deps.db) }));

    app.post('/accounts', async (req) => {
      requireJsonContentType(req.headers);
      return answer(await createAccountAsOperator(deps.db, deps.clock, req.body));
    });

    app.get<{ Params: { name: string } }>('/accounts/:name', async (req) => answer(await showAccount(deps.db, req.params.name)));

    app.post<{ Params: { name: string } }>('/accounts/:name/credit', async (req) => {
      requireJsonContentType(req.headers);
      return answer(await creditAccount(deps.db, deps.clock, req.params.name, req.body));
    });

    // The entries in the shape of the account's own ledger route (/api/v1/account/ledger).
    app.get<{ Params: { name: string }; Querystring: { limit?: unknown; cursor?: unknown } }>('/accounts/:name/ledger', async (req) =>
      answer(await accountLedger(deps.db, req.params.name, req.query), (page) => ({
        account: page.account.name,
        entries: page.entries.map(ledgerEntryView),
        nextCursor: page.nextCursor,
      })),
    );
  };

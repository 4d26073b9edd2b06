import type { FastifyPluginAsync } from 'fastify';
import { engineTable } from '../../admin/engines.js';
import type { Deps } from '../../services/deps.js';
import { requireAdmin } from '../admin-guard.js';
import { success } from '../api-error.js';
import { accountRoutes } from './account-routes.js';
import { keyRoutes } from './key-routes.js';

/**
 * `/admin/v1`: the operator's API (docs/api.md, admin API). Every route is behind the admin token
 * (an API key is never one) and calls the same service as the matching `longshot` command.
 */
export const adminRoutes =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    app.addHook('onRequest', requireAdmin(deps.admin));
    app.register(accountRoutes(deps));
    app.register(keyRoutes(deps));
    // The health table of `longshot engines` (without --check: a diagnostic run from the CLI).
    app.get('/engines', async () => success({ engines: await engineTable(deps.db, deps.config, deps.clock.now()) }));
  };

import type { FastifyPluginAsync } from 'fastify';
import { createKey, listKeys, revokeKey, updateKey } from '../../admin/keys.js';
import type { Deps } from '../../services/deps.js';
import { requireJsonContentType } from '../body-rules.js';
import { answer } from './answer.js';

/** `/admin/v1/keys…`: create (the key text is in this answer only), list, update, revoke. */
export const keyRoutes =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    app.post('/keys', async (req) => {
      requireJsonContentType(req.headers);
      return answer(await createKey(deps.db, deps.clock, req.body));
    });

    app.get<{ Querystring: { account?: unknown } }>('/keys', async (req) =>
      answer(await listKeys(deps.db, deps.clock, req.query.account), (keys) => ({ keys })),
    );

    app.patch<{ Params: { keyId: string } }>('/keys/:keyId', async (req) => {
      requireJsonContentType(req.headers);
      return answer(await updateKey(deps.db, deps.clock, req.params.keyId, req.body));
    });

    // No body needed, like the API's cancel.
    app.post<{ Params: { keyId: string } }>('/keys/:keyId/revoke', async (req) => answer(await revokeKey(deps.db, deps.clock, req.params.keyId)));
  };

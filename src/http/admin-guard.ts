import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AdminAuth } from '../admin/admin-token.js';
import { ApiError } from './api-error.js';

/**
 * The one check of every operator route (`/admin/v1`, `/console`'s data, `/metrics`): the admin
 * token as a bearer token. An API key is never an admin token (they differ in shape and store).
 */
export function requireAdmin(admin: AdminAuth) {
  return (req: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void => {
    if (admin.verify(req.headers.authorization)) done();
    else done(new ApiError(401, { error: 'Authorization must be "Bearer <admin token>" (LONGSHOT_ADMIN_TOKEN, or the token printed at the first start)' }));
  };
}

import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Static } from 'typebox';
import { getTaskById } from '../../db/tasks-repo.js';
import type { Deps } from '../../services/deps.js';
import { ApiError } from '../api-error.js';
import { ifRangeHolds, noneMatchHits, parseRange } from '../range.js';
import { filesSchema, filesSchemaError } from '../schemas/service.js';

const NAME = /^([0-9a-f]{32})\.(mp4|jpg)$/;

/**
 * GET/HEAD /files/results/{taskId}.(mp4|jpg)?expires=&sig=: result files. The signed URL is the
 * credential (no API key), so players and browsers can fetch it directly. Supports Range,
 * If-None-Match (weak comparison, lists, `*`) and If-Range (strong comparison), as RFC 9110 says.
 */
export const filesRoute =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    // GET and HEAD share one handler; Fastify's generated HEAD route would reset Content-Length.
    app.route<{ Params: { name: string }; Querystring: Static<typeof filesSchema.querystring> }>({
      method: ['GET', 'HEAD'],
      url: '/files/results/:name',
      schema: filesSchema,
      // A query the schema refuses (missing, repeated, malformed) is a signature that cannot hold.
      schemaErrorFormatter: filesSchemaError,
      handler: async (req, reply) => {
        const { name } = req.params;
        const path = `/files/results/${name}`;
        const verdict = deps.signer.verify(path, req.query.expires, req.query.sig, deps.clock.now());
        if (verdict === 'invalid') throw new ApiError(403, { error: 'the file URL signature is missing or wrong' });
        if (verdict === 'expired') throw new ApiError(403, { error: 'the file URL has expired; ask statusTask for a fresh one' });
        const match = NAME.exec(name);
        if (!match) throw new ApiError(404, { error: 'no such file' });
        const task = await getTaskById(deps.db, match[1]!);
        if (!task) throw new ApiError(404, { error: 'no such file' });
        // Before the key: a delete by request clears the keys, and a URL we signed stays a 410.
        if (task.deleted_at !== null) throw new ApiError(410, { error: goneReason(task.delete_reason) });
        const key = match[2] === 'mp4' ? task.result_key : task.poster_key;
        if (!key) throw new ApiError(404, { error: 'no such file' });
        const stat = await deps.blobs.stat(key);
        if (!stat) throw new ApiError(410, { error: 'the file is no longer stored' });

        reply.header('accept-ranges', 'bytes');
        reply.header('etag', stat.etag);
        reply.header('cache-control', 'private, max-age=86400, immutable');
        reply.type(stat.contentType);
        if (noneMatchHits(req.headers['if-none-match'], stat.etag)) return reply.code(304).send();

        const range = ifRangeHolds(req.headers['if-range'], stat.etag) ? parseRange(req.headers.range, stat.size) : null;
        if (range === 'unsatisfiable') {
          reply.header('content-range', `bytes */${stat.size}`);
          throw new ApiError(416, { error: `the range is outside the file of ${stat.size} bytes` });
        }
        if (range) {
          reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${stat.size}`);
          return sendBody(reply, req.method, range.end - range.start + 1, () => deps.blobs.read(key, range));
        }
        return sendBody(reply, req.method, stat.size, () => deps.blobs.read(key));
      },
    });
  };

function goneReason(reason: string | null): string {
  return reason === 'request'
    ? "the file was deleted at its owner's request (DELETE /api/v1/tasks/{taskId})"
    : 'the file was deleted when its retention period ended';
}

async function sendBody(reply: FastifyReply, method: string, length: number, open: () => Promise<NodeJS.ReadableStream>) {
  reply.header('content-length', String(length));
  // An empty string (not undefined) keeps Fastify from overwriting Content-Length with 0 on HEAD.
  if (method === 'HEAD') return reply.send('');
  return reply.send(await open());
}

import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { ApiError } from '../api-error.js';
import { noneMatchHits } from '../range.js';

/**
 * The web playground: `GET /` is web/index.html, `GET /web/<file>` the other files of web/.
 * No API key is involved here: the page asks for one and sends it only to /api/v1 on this origin.
 */

// Sources run from src/http/routes/, compiled code from dist/http/routes/: both 3 levels below the package root.
const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../../web/', import.meta.url));

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  json: 'application/json; charset=utf-8',
};

/** A plain file name of web/: no directories, no dot files, a known extension. */
const NAME = /^[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9_-]+)*\.([a-z0-9]+)$/i;

/**
 * Only this origin's API; media and posters may come from the result host (LONGSHOT_PUBLIC_URL
 * can differ from the page's origin). No inline script, no framing.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data: blob: http: https:",
  "media-src 'self' blob: http: https:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const playgroundRoute =
  (webDir: string = DEFAULT_WEB_DIR): FastifyPluginAsync =>
  async (app) => {
    app.get('/', async (req, reply) => send(req.headers['if-none-match'], reply, webDir, 'index.html'));
    app.get<{ Params: { file: string } }>('/web/:file', async (req, reply) => send(req.headers['if-none-match'], reply, webDir, req.params.file));
  };

async function send(ifNoneMatch: string | undefined, reply: FastifyReply, webDir: string, name: string) {
  const match = NAME.exec(name);
  const type = match ? TYPES[match[1]!.toLowerCase()] : undefined;
  // Allow-list by listing: only a regular file that sits directly in web/ is ever read.
  if (!type || !(await listing(webDir)).has(name)) throw new ApiError(404, { error: `no playground file ${name}` });
  const body = await readFile(webDir + name);
  const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
  // No build step, so no hashed names: browsers revalidate every time and get 304 while unchanged.
  reply.header('cache-control', 'no-cache');
  reply.header('etag', etag);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  if (type.startsWith('text/html')) {
    reply.header('content-security-policy', CSP);
    reply.header('x-frame-options', 'DENY');
  }
  if (noneMatchHits(ifNoneMatch, etag)) return reply.code(304).send();
  return reply.type(type).send(body);
}

async function listing(webDir: string): Promise<Set<string>> {
  try {
    const entries = await readdir(webDir, { withFileTypes: true });
    return new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
  } catch {
    return new Set();
  }
}

import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import type { FastifyReply } from 'fastify';
import { ApiError } from './api-error.js';
import { noneMatchHits } from './range.js';

/**
 * The files of a page shipped in the package (web/ for the playground, web/console/ for the
 * console): allow-listed by listing the directory, no build step, revalidated on every load.
 */

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  json: 'application/json; charset=utf-8',
};

/** A plain file name: no directories, no dot files, a known extension. */
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

/** Sends `name` from `dir` (ending in /), or a 404 naming `what` ("playground file"). */
export async function sendStaticFile(ifNoneMatch: string | undefined, reply: FastifyReply, dir: string, name: string, what: string) {
  const match = NAME.exec(name);
  const type = match ? TYPES[match[1]!.toLowerCase()] : undefined;
  // Allow-list by listing: only a regular file that sits directly in the directory is ever read.
  if (!type || !(await listing(dir)).has(name)) throw new ApiError(404, { error: `no ${what} ${name}` });
  const body = await readFile(dir + name);
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

async function listing(dir: string): Promise<Set<string>> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
  } catch {
    return new Set();
  }
}

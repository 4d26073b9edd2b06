import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { ApiError } from './api-error.js';

/**
 * What request bodies the API takes: JSON, not content-coded. Fastify alone would read a gzip
 * body as broken JSON, parse `text/plain` into a string, and refuse `application/json` with an
 * empty body, which is how clients commonly send a POST that carries nothing (cancel).
 */

const JSON_MEDIA_TYPE = /^application\/json\s*(?:;|$)/i;

/**
 * Request bodies are never decoded here, so any coding but `identity` is refused (RFC 9110
 * §15.5.16: 415, with Accept-Encoding naming what would be taken). Null when the request may go on.
 */
export function contentEncodingRefusal(headers: IncomingHttpHeaders): ApiError | null {
  const coding = headers['content-encoding'];
  if (coding === undefined || /^\s*(?:identity\s*)?$/i.test(coding)) return null;
  return new ApiError(415, { error: `Content-Encoding ${coding} is not supported; send the body uncompressed`, field: 'Content-Encoding' });
}

/** A submit's body must be declared JSON, whatever it holds (docs/errors.md, 400 `field: "Content-Type"`). */
export function requireJsonContentType(headers: IncomingHttpHeaders): void {
  const type = headers['content-type'];
  if (type === undefined || !JSON_MEDIA_TYPE.test(type.trim())) {
    throw new ApiError(400, { error: 'Content-Type must be application/json', field: 'Content-Type' });
  }
}

/**
 * Fastify's own JSON parser (with its prototype-poisoning guards), except that an empty or
 * all-whitespace body is no body (`undefined`) instead of an error: routes that need a body say
 * so themselves, routes that take none (cancel) then work with `Content-Type: application/json`.
 */
export function installJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if ((body as string).trim() === '') return done(null, undefined);
    parse(req, body as string, done);
  });
}

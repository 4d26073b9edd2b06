import { Type } from 'typebox';
import { ApiError } from '../api-error.js';
import { ADDITION, errorResponses, okResponse } from './envelope.js';

/** Schemas of the routes that need no API key: result files, health, the document itself. */

const NO_KEY: Array<Record<string, string[]>> = [];

const binary = (type: string) => ({ [type]: { schema: Type.String({ contentMediaType: type }) } });
const fileHeaders = {
  ETag: { type: 'string', description: 'Strong; If-None-Match and If-Range compare with it.' },
  'Accept-Ranges': { type: 'string', enum: ['bytes'] },
};

export const filesSchema = {
  operationId: 'resultFile',
  tags: ['files'],
  summary: 'A result video or poster',
  description:
    'The URL in `resultUrls` or `posterUrl`, signed: the signature is the credential, so players fetch it directly. Answers `Range` (one range), `If-None-Match` and `If-Range` (RFC 9110); HEAD is GET without the body.',
  security: NO_KEY,
  params: Type.Object({ name: Type.String({ description: '`<taskId>.mp4` for the video, `<taskId>.jpg` for the poster.' }) }),
  // Required: a URL without them is refused like a wrong signature (403, not 400).
  querystring: Type.Object({
    expires: Type.String({ pattern: '^\\d{1,12}$', description: 'Unix seconds; part of the signed URL.' }),
    sig: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$', description: 'The signature; part of the signed URL.' }),
  }),
  response: {
    200: { description: 'The whole file.', headers: fileHeaders, content: { ...binary('video/mp4'), ...binary('image/jpeg') } },
    206: {
      description: 'The requested range.',
      headers: { ...fileHeaders, 'Content-Range': { type: 'string', description: '`bytes <first>-<last>/<size>`' } },
      content: { ...binary('video/mp4'), ...binary('image/jpeg') },
    },
    304: { description: 'Not modified: If-None-Match matched the ETag.', headers: fileHeaders },
    ...errorResponses({
      403: 'the signature is missing or wrong, or the URL has expired: ask statusTask for a fresh one.',
      404: 'no such file.',
      410: 'the file was deleted: its retention period ended (7 days by default), or its task was deleted (`DELETE /api/v1/tasks/{taskId}`).',
      416: 'a range that starts beyond the end of the file (`Content-Range: bytes */<size>`).',
    }),
  },
};

/** The file route refuses whatever its query schema refuses exactly like a wrong signature. */
export const filesSchemaError = (): ApiError => new ApiError(403, { error: 'the file URL signature is missing or wrong' });

export const healthSchema = {
  operationId: 'healthz',
  tags: ['beyond-apixo'],
  summary: 'Readiness',
  description: 'For load balancers: 200 once the service can take tasks. `degraded` (still 200) names upstream engines that cannot serve now, and why.',
  ...ADDITION,
  security: NO_KEY,
  response: {
    200: okResponse(
      'Ready.',
      Type.Object({
        status: Type.Enum(['ok', 'degraded']),
        engines: Type.Optional(Type.Array(Type.Object({ engine: Type.String(), reason: Type.String() }), { description: 'Only when `degraded`.' })),
      }),
    ),
    ...errorResponses({ 503: 'starting up or shutting down.' }),
  },
};

export const openapiSchema = {
  operationId: 'openapi',
  tags: ['beyond-apixo'],
  summary: 'This document',
  description: "OpenAPI 3.1, generated from the routes' own schemas. The reference page `/docs/api` reads it.",
  ...ADDITION,
  security: NO_KEY,
  response: { 200: { description: 'The OpenAPI 3.1 document.', content: { 'application/json': { schema: Type.Object({ openapi: Type.String() }) } } } },
};

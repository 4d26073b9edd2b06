import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { packageVersion } from './package-version.js';
import { ErrorEnvelope, errorResponse } from './schemas/envelope.js';
import { openapiSchema } from './schemas/service.js';
import { ExtendTaskRequest, GenerateTaskRequest } from './schemas/submit.js';
import { TaskStatus } from './schemas/tasks.js';

/**
 * The OpenAPI 3.1 document at GET /api/v1/openapi.json (no key: it describes the public shapes,
 * nothing of an account) and the reference page at /docs/api that reads it. @fastify/swagger
 * builds the document from the schemas the routes are registered with, so it cannot drift from
 * them; `transform` below adds what every route shares (the key, rate limits, answers any request
 * can get) and marks what is beyond APIXO and what is for operators.
 */

const OPENAPI_PATH = '/api/v1/openapi.json';
const REFERENCE_PATH = '/docs/api';

const version = packageVersion();

/** APIXO's own routes (docs/contract.md §2); every other /api/v1 route is a Longshot addition. */
const APIXO_TAG = 'apixo';
/** Operator routes (the admin token, never an API key): /admin/v1 and /metrics. */
const OPERATOR = /^\/(?:admin\/|metrics$)/;
/** The playground's and the console's pages and files: UIs, not API. */
const UI = /^\/(?:$|web\/|console(?:$|\/))/;

const TAGS = [
  { name: APIXO_TAG, description: "APIXO's task API, unchanged: every client written for APIXO's veo-3-1 and veo-3-1-extend works as it is." },
  { name: 'files', description: 'Result files behind `resultUrls` and `posterUrl`: signed URLs, no key.' },
  {
    name: 'beyond-apixo',
    description: 'Longshot additions (docs/contract.md §9), each also marked `x-longshot-addition: true`; an APIXO client never needs them.',
  },
  { name: 'admin', description: 'Operator routes: the admin token (LONGSHOT_ADMIN_TOKEN or the one printed at the first start), never an API key.' },
];

const DESCRIPTION = [
  'Every answer is the envelope `{"code", "message", "data"}` with `code` equal to the HTTP status; an error\'s `data` has `error`, a sentence',
  'naming the field, and `field` (docs/errors.md lists every error and fail code). Types are never coerced: `"prompt": 1` is a 400.',
  '',
  'What APIXO does not have is tagged `beyond-apixo` and marked `x-longshot-addition: true` (operations, parameters, fields).',
  'Operator routes are tagged `admin` and need the admin token. A request that is not valid HTTP/1.1 is answered 400 before any route.',
].join('\n');

/** What any request can be answered, whatever its route (docs/errors.md). */
const ANY_REQUEST: Record<number, string> = {
  400: 'a request that is not valid HTTP/1.1 (answered before any route; the connection is closed).',
  408: 'the headers or the body did not arrive in time (LONGSHOT_HEADERS_TIMEOUT_MS, LONGSHOT_REQUEST_TIMEOUT_MS).',
  415: 'a `Content-Encoding` other than identity: bodies are not decoded.',
  431: 'headers over 16 KB (answered before any route; the connection is closed).',
  500: 'a fault in the service, logged with the X-Request-Id. Never a stack trace.',
};

/** During shutdown Fastify answers before any hook, with its own body rather than the envelope. */
const SHUTTING_DOWN = {
  description: 'Service unavailable: the service is shutting down. While it drains, Fastify itself answers, with `{"error":"Service Unavailable",…}`.',
  content: {
    'application/json': {
      schema: {
        anyOf: [
          { $ref: 'ErrorEnvelope' },
          { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' }, statusCode: { type: 'integer', enum: [503] } } },
        ],
      },
    },
  },
};

type Doc = Record<string, unknown> & { response?: Record<string, unknown>; tags?: string[]; security?: unknown };

/** Adds to one route's schema what the document shows for every route of its kind. */
function documentRoute({ schema, url }: { schema: FastifySchema; url: string }): { schema: FastifySchema; url: string } {
  if (UI.test(url)) return { schema: { ...schema, hide: true } as FastifySchema, url };
  const doc: Doc = { ...(schema as Doc) };
  const response: Record<string, unknown> = { ...doc.response };
  const tags = new Set(doc.tags ?? []);
  if (OPERATOR.test(url)) {
    tags.add('admin');
    doc.security = [{ adminToken: [] }];
    doc['x-longshot-operator'] = true;
    response[401] ??= errorResponse(401, 'a missing or wrong admin token (an API key is never one).');
  } else if (url.startsWith('/api/v1/') && !tags.has(APIXO_TAG)) {
    tags.add('beyond-apixo');
    doc['x-longshot-addition'] = true;
  }
  // A route that sets no security of its own takes the document's: the API key.
  if (doc.security === undefined) {
    response[401] ??= errorResponse(401, 'a missing, malformed, unknown or revoked key (refused within 1 s of `longshot keys revoke`).');
    response[429] ??= errorResponse(429, "the key's requests per minute are at their limit (`data.retryAfter`).");
  }
  for (const [code, when] of Object.entries(ANY_REQUEST)) response[code] ??= errorResponse(Number(code), when);
  response[503] ??= SHUTTING_DOWN;
  if (!Object.keys(response).some((code) => /^[23]/.test(code))) response[200] = { description: 'Success (this route documents no body yet).' };
  doc.response = response;
  doc.tags = [...tags];
  return { schema: doc as FastifySchema, url };
}

const LOGO = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="220" height="40" viewBox="0 0 220 40">' +
    '<text x="0" y="29" font-family="sans-serif" font-size="26" font-weight="700" fill="#ffffff">Longshot API</text></svg>',
);

/** Same-origin only: the page's scripts, styles, images and fonts ship in @fastify/swagger-ui. */
const REFERENCE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  // Swagger UI sets some styles inline; a style cannot run script, and every sheet is still ours.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Registers the document, its route and the reference page. Call before any route is
 * registered: @fastify/swagger collects routes as they are added.
 */
export function installOpenApi(app: FastifyInstance): void {
  // The schemas named in the document's components; `$ref: 'ErrorEnvelope'` points at them.
  for (const schema of [ErrorEnvelope, TaskStatus, GenerateTaskRequest, ExtendTaskRequest]) app.addSchema(schema);
  // Response schemas document; they never rewrite an answer (fast-json-stringify would drop
  // fields a schema does not list and coerce the types of those it does).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Longshot API', version, description: DESCRIPTION },
      tags: TAGS,
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'An API key (`lsk_…`): printed at the first start, or `longshot keys create`.' },
          adminToken: { type: 'http', scheme: 'bearer', description: 'The admin token: LONGSHOT_ADMIN_TOKEN, or the one printed at the first start.' },
        },
      },
      security: [{ apiKey: [] }],
    },
    // Components keep their own names (`#/components/schemas/ErrorEnvelope`), not `def-0`.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transform: documentRoute,
  });
  app.register(async (scope) => {
    scope.get(OPENAPI_PATH, { schema: openapiSchema }, async (_req, reply) => {
      reply.header('cache-control', 'no-cache');
      return app.swagger();
    });
  });
  app.register(swaggerUi, {
    routePrefix: REFERENCE_PATH,
    // The page reads the document from its API path (not the plugin's own copy at /docs/api/json).
    uiConfig: { urls: [{ url: OPENAPI_PATH, name: 'Longshot API' }], deepLinking: true, docExpansion: 'list', defaultModelsExpandDepth: 0 },
    theme: { title: 'Longshot API reference' },
    // In place of the plugin's Fastify logo; drawn from a data: URL, so it needs no request.
    logo: { type: 'image/svg+xml', content: LOGO, href: REFERENCE_PATH },
    staticCSP: REFERENCE_CSP,
  });
}

import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Doc, fetchDocument } from './support/openapi.js';
import { startTestService, type TestService } from './support/service.js';
import { BAD_EXTEND_BODIES, BAD_GENERATE_BODIES, SEED_BODIES } from './support/submit-bodies.js';

/**
 * The model catalogue (docs/api.md, models): GET /api/v1/models and the same in the shape APIXO's
 * MCP server reads (/docs/models/schemas/index.json and one schema document per model). Their
 * schemas are the submit route's: they take the seed page's bodies and refuse what the route refuses.
 */
let t: TestService;
let doc: Doc;
beforeAll(async () => {
  // A configured price, to see the catalogue reads configuration.
  t = await startTestService({ LONGSHOT_PRICE_VEO_3_1_FAST_USD: '0.35' }, { workers: false });
  doc = await fetchDocument(t);
});
afterAll(() => t?.close());

const validator = (schema: object) => new Ajv2020({ strict: false, validateFormats: false, allErrors: true }).compile(schema);

async function getJson(path: string, key?: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${t.url}${path}`, key ? { headers: { authorization: `Bearer ${key}` } } : {});
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** @fastify/swagger writes `const: x` as `enum: [x]` in the document: the same schema. */
function sameSchema(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sameSchema);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => (k === 'const' ? ['enum', [v]] : [k, sameSchema(v)])));
}

/** How APIXO's MCP server resolves a schema_path: against its docs base, leading slashes dropped. */
const docsUrl = (path: string) => new URL(path.replace(/^\/+/, ''), `${t.url}/docs/`).toString();

describe('GET /api/v1/models', () => {
  it('lists both models without a key, with configured prices, modes, limits and input schemas', async () => {
    const { status, body, headers } = await getJson('/api/v1/models');
    expect(status).toBe(200);
    expect(headers.get('cache-control')).toBe('public, max-age=60');
    expect(body).toMatchObject({ code: 200, message: 'success' });
    const [generate, extend] = body.data.models;
    expect(generate).toMatchObject({
      model: 'veo-3-1',
      category: 'video',
      submit: { method: 'POST', path: '/api/v1/generateTask/veo-3-1' },
      modes: [
        { mode: 'fast', priceUsd: 0.35, default: false },
        { mode: 'quality', priceUsd: 1.5, default: true },
      ],
      generationTypes: ['TEXT_2_VIDEO', 'FIRST_AND_LAST_FRAMES_2_VIDEO', 'REFERENCE_2_VIDEO'],
      aspectRatios: ['16:9', '9:16', 'auto'],
      limits: { promptMaxChars: 10_000, watermarkMaxChars: 64, seedMax: 4_294_967_295, imageUrls: { REFERENCE_2_VIDEO: { min: 1, max: 3 } } },
    });
    expect(extend).toMatchObject({
      model: 'veo-3-1-extend',
      modes: [
        { mode: 'fast', default: true },
        { mode: 'quality', default: false },
      ],
      limits: { maxChainExtensions: 20 },
    });
    // One source: the schemas are the OpenAPI document's submit schemas.
    expect(sameSchema(generate.inputSchema)).toEqual(doc.components.schemas.GenerateTaskRequest);
    expect(sameSchema(extend.inputSchema)).toEqual(doc.components.schemas.ExtendTaskRequest);
  });

  it('answers the same with a key, and is documented as needing none', async () => {
    const anon = await getJson('/api/v1/models');
    expect((await getJson('/api/v1/models', t.key)).body).toEqual(anon.body);
    expect(doc.paths['/api/v1/models']!.get).toMatchObject({ security: [], 'x-longshot-addition': true });
  });
});

describe('the APIXO-shaped index and schema documents', () => {
  it('serves the index APIXO’s list_models reads, each schema_path resolving to its document', async () => {
    const { status, body } = await getJson('/docs/models/schemas/index.json');
    expect(status).toBe(200);
    expect(body.total_models).toBe(2);
    expect(body.models).toEqual([
      expect.objectContaining({ model_id: 'veo-3-1', slug: 'veo-3-1', category: 'video', title: 'Veo 3.1', integration_type: 'task_api' }),
      expect.objectContaining({ model_id: 'veo-3-1-extend', slug: 'veo-3-1-extend', category: 'video', integration_type: 'task_api' }),
    ]);
    for (const entry of body.models) {
      expect(Object.keys(entry).sort()).toEqual(['category', 'doc_path', 'integration_type', 'model_id', 'schema_path', 'slug', 'title']);
      const res = await fetch(docsUrl(entry.schema_path));
      expect(res.status, entry.schema_path).toBe(200);
      const schemaDoc = await res.json();
      expect(schemaDoc).toMatchObject({ model_id: entry.model_id, endpoint: { method: 'POST', path: `/api/v1/generateTask/${entry.model_id}` } });
      expect(sameSchema(schemaDoc.request_schema)).toEqual(doc.components.schemas[entry.model_id === 'veo-3-1' ? 'GenerateTaskRequest' : 'ExtendTaskRequest']);
      expect((await fetch(docsUrl(entry.doc_path))).status, entry.doc_path).toBe(200);
    }
    const generate = (await getJson('/docs/models/schemas/veo-3-1.json')).body;
    expect(generate.pricing).toEqual([
      { mode: 'fast', price_usd: 0.35, default: false },
      { mode: 'quality', price_usd: 1.5, default: true },
    ]);
  });

  it('answers 404 in the envelope for a model it does not serve', async () => {
    for (const file of ['veo-9.json', 'veo-3-1', 'index']) {
      const res = await getJson(`/docs/models/schemas/${file}`);
      expect(res.status, file).toBe(404);
      expect(res.body).toMatchObject({ code: 404, data: { field: 'file' } });
    }
  });
});

describe('the catalogue’s schemas and the submit route agree', () => {
  let compiled: Promise<{ catalogue: Record<string, (v: unknown) => boolean>; documents: Record<string, (v: unknown) => boolean> }> | undefined;
  const schemas = () => (compiled ??= compileAll());
  const compileAll = async () => {
    const { body } = await getJson('/api/v1/models');
    const byModel = Object.fromEntries(body.data.models.map((m: any) => [m.model, validator(m.inputSchema)]));
    const docs = Object.fromEntries(
      await Promise.all(['veo-3-1', 'veo-3-1-extend'].map(async (m) => [m, validator((await getJson(`/docs/models/schemas/${m}.json`)).body.request_schema)])),
    );
    return { catalogue: byModel, documents: docs };
  };

  it('accept every body of the seed page, and every example they carry', async () => {
    const { catalogue, documents } = await schemas();
    const { body } = await getJson('/docs/models/schemas/veo-3-1.json');
    const examples = [
      ...body.examples.map((e: unknown) => ['veo-3-1', e]),
      ...(await getJson('/docs/models/schemas/veo-3-1-extend.json')).body.examples.map((e: unknown) => ['veo-3-1-extend', e]),
    ];
    expect(examples.length).toBeGreaterThanOrEqual(5);
    for (const [model, value] of [...SEED_BODIES, ...examples]) {
      expect({ model, value, catalogue: catalogue[model](value), document: documents[model](value) }).toEqual({
        model,
        value,
        catalogue: true,
        document: true,
      });
    }
    // And the route takes the generate one.
    expect((await t.api('POST', '/api/v1/generateTask/veo-3-1', { body: SEED_BODIES[0]![1] })).status).toBe(200);
  });

  const bad = [...BAD_GENERATE_BODIES.map((b) => ['veo-3-1', ...b] as const), ...BAD_EXTEND_BODIES.map((b) => ['veo-3-1-extend', ...b] as const)];
  it.each(bad)('%s: refuse what the route refuses: %s', async (model, _name, value, field) => {
    const res = await t.api('POST', `/api/v1/generateTask/${model}`, { body: value });
    expect(res.status).toBe(400);
    expect(res.body.data.field).toBe(field);
    const { catalogue, documents } = await schemas();
    expect(catalogue[model](value)).toBe(false);
    expect(documents[model](value)).toBe(false);
  });
});

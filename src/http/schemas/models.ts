import { Type } from 'typebox';
import { MODELS } from '../../domain/models.js';
import { ADDITION, errorResponses, okResponse } from './envelope.js';

/** Schemas of the model catalogue (http/model-catalogue.ts): public, like the document itself. */

const NO_KEY: Array<Record<string, string[]>> = [];
const JSON_SCHEMA = Type.Object({}, { additionalProperties: true, description: 'A JSON Schema (draft 2020-12) of the submit body.' });
const Endpoint = Type.Object({ method: Type.String(), path: Type.String() });

const CatalogueModel = Type.Object({
  model: Type.Enum(MODELS),
  title: Type.String(),
  summary: Type.String(),
  category: Type.Literal('video'),
  submit: Endpoint,
  status: Endpoint,
  modes: Type.Array(
    Type.Object({
      mode: Type.Enum(['fast', 'quality']),
      priceUsd: Type.Number({ description: 'The price of one task in this mode, as this server is configured (LONGSHOT_PRICE_*); held at submit.' }),
      default: Type.Boolean({ description: 'The mode used when `input.mode` is absent.' }),
    }),
  ),
  generationTypes: Type.Array(Type.String(), { description: '`input.generationType` values; empty for an extension.' }),
  aspectRatios: Type.Array(Type.String(), { description: '`input.aspect_ratio` values; empty for an extension (it keeps the source).' }),
  output: Type.Object({ container: Type.Literal('mp4'), seconds: Type.String() }),
  limits: Type.Object(
    {
      promptMaxChars: Type.Integer(),
      watermarkMaxChars: Type.Integer(),
      seedMax: Type.Integer(),
      imageUrls: Type.Optional(
        Type.Record(Type.String(), Type.Object({ min: Type.Integer(), max: Type.Integer() }), { description: 'URLs per generation type.' }),
      ),
      imageMaxBytes: Type.Optional(Type.Integer()),
      imageTypes: Type.Optional(Type.Array(Type.String())),
      maxChainExtensions: Type.Optional(Type.Integer({ description: 'Extensions allowed in one chain.' })),
    },
    { additionalProperties: true },
  ),
  inputSchema: JSON_SCHEMA,
});

export const modelsSchema = {
  operationId: 'listModels',
  summary: 'The models this server serves',
  description:
    'Modes, prices (from configuration), generation types, limits and the JSON Schema of each submit body: what a client needs before it has a key, so no key is asked (docs/api.md, models).',
  ...ADDITION,
  security: NO_KEY,
  response: {
    200: okResponse('The catalogue.', Type.Object({ models: Type.Array(CatalogueModel) })),
  },
};

const IndexEntry = Type.Object({
  model_id: Type.String(),
  slug: Type.String(),
  category: Type.String(),
  title: Type.String(),
  integration_type: Type.String(),
  schema_path: Type.String({ description: 'Relative to the docs base `{origin}/docs`.' }),
  doc_path: Type.String({ description: 'Relative to the docs base `{origin}/docs`.' }),
});

export const schemaIndexSchema = {
  operationId: 'modelSchemaIndex',
  tags: ['beyond-apixo'],
  summary: 'The model index in APIXO’s shape',
  description:
    "The catalogue as apixo.ai/docs/models/schemas/index.json has it, which APIXO's MCP server reads (`APIXO_MODEL_SCHEMA_INDEX_URL`). Not in the envelope: a plain document, like APIXO's.",
  ...ADDITION,
  security: NO_KEY,
  response: {
    200: {
      description: 'The index.',
      content: {
        'application/json': {
          schema: Type.Object({ schema_version: Type.String(), total_models: Type.Integer(), models: Type.Array(IndexEntry) }),
        },
      },
    },
  },
};

export const schemaDocumentSchema = {
  operationId: 'modelSchemaDocument',
  tags: ['beyond-apixo'],
  summary: 'One model’s schema document',
  description: 'The document an index entry’s `schema_path` names: the model, its endpoints, prices, limits, the JSON Schema of its body and examples.',
  ...ADDITION,
  security: NO_KEY,
  params: Type.Object({ file: Type.String({ description: '`<model>.json`, e.g. `veo-3-1.json`.' }) }),
  response: {
    200: {
      description: 'The schema document.',
      content: {
        'application/json': {
          schema: Type.Object(
            {
              model_id: Type.Enum(MODELS),
              title: Type.String(),
              endpoint: Endpoint,
              status_endpoint: Endpoint,
              pricing: Type.Array(Type.Object({ mode: Type.String(), price_usd: Type.Number(), default: Type.Boolean() })),
              limits: Type.Object({}, { additionalProperties: true }),
              request_schema: JSON_SCHEMA,
              examples: Type.Array(Type.Unknown()),
            },
            { additionalProperties: true },
          ),
        },
      },
    },
    ...errorResponses({ 404: 'no model of that name.' }),
  },
};

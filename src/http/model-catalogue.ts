import type { Config } from '../config.js';
import { ASPECT_RATIOS, EXTEND_SECONDS, GENERATE_SECONDS, GENERATION_TYPES, MAX_CHAIN_EXTENSIONS, MODES, type Model } from '../domain/models.js';
import { microsToUsd } from '../domain/money.js';
import { IMAGE_LIMITS, MAX_PROMPT_CHARS, MAX_SEED, MAX_WATERMARK_CHARS } from '../domain/validate-submit.js';
import { ExtendTaskRequest, GenerateTaskRequest } from './schemas/submit.js';

/**
 * The models this server serves, as clients and agents read them before they submit
 * (docs/api.md, models): modes and prices (from configuration), generation types, limits, and the
 * JSON Schema of the submit body. The schemas are the documented submit schemas themselves
 * (schemas/submit.ts), so the catalogue, the OpenAPI document and the MCP tools cannot disagree.
 */

/** The image a URL in `image_urls` may be at most (net/fetch-image.ts). */
const MAX_IMAGE_BYTES = 10 * 1024 * 1024;

/**
 * Plain JSON (no TypeBox internals), so it can be served, copied and compared as it is; without
 * the `$id` that names it among the OpenAPI document's components, meaningless on its own.
 */
function plain(schema: object): Record<string, unknown> {
  const { $id: _id, ...rest } = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
  return rest;
}

export const REQUEST_SCHEMAS: Record<Model, Record<string, unknown>> = {
  'veo-3-1': plain(GenerateTaskRequest),
  'veo-3-1-extend': plain(ExtendTaskRequest),
};

interface ModelFacts {
  title: string;
  summary: string;
  defaultMode: (typeof MODES)[number];
  seconds: string;
}

const FACTS: Record<Model, ModelFacts> = {
  'veo-3-1': {
    title: 'Veo 3.1',
    summary: 'An 8-second video from a prompt, optionally from first and last frames or reference images.',
    defaultMode: 'quality',
    seconds: `${GENERATE_SECONDS} s`,
  },
  'veo-3-1-extend': {
    title: 'Veo 3.1 Extend',
    summary: 'A finished task of this account (either model) followed by a 7-second continuation.',
    defaultMode: 'fast',
    seconds: `the source plus ${EXTEND_SECONDS} s`,
  },
};

export interface CatalogueModel {
  model: Model;
  title: string;
  summary: string;
  category: 'video';
  submit: { method: 'POST'; path: string };
  status: { method: 'GET'; path: string };
  modes: Array<{ mode: string; priceUsd: number; default: boolean }>;
  generationTypes: string[];
  aspectRatios: string[];
  output: { container: 'mp4'; seconds: string };
  limits: Record<string, unknown>;
  inputSchema: Record<string, unknown>;
}

function limitsOf(model: Model): Record<string, unknown> {
  const common = { promptMaxChars: MAX_PROMPT_CHARS, watermarkMaxChars: MAX_WATERMARK_CHARS, seedMax: MAX_SEED };
  if (model === 'veo-3-1-extend') return { ...common, maxChainExtensions: MAX_CHAIN_EXTENSIONS };
  const imageUrls = Object.fromEntries(GENERATION_TYPES.map((t) => [t, { min: IMAGE_LIMITS[t][0], max: IMAGE_LIMITS[t][1] }]));
  return { ...common, imageUrls, imageMaxBytes: MAX_IMAGE_BYTES, imageTypes: ['image/jpeg', 'image/png', 'image/webp'] };
}

/** The catalogue of GET /api/v1/models, prices as configured (they may differ per deployment). */
export function modelCatalogue(config: Pick<Config, 'prices'>): CatalogueModel[] {
  return (Object.keys(FACTS) as Model[]).map((model) => {
    const facts = FACTS[model];
    return {
      model,
      title: facts.title,
      summary: facts.summary,
      category: 'video',
      submit: { method: 'POST', path: `/api/v1/generateTask/${model}` },
      status: { method: 'GET', path: `/api/v1/statusTask/${model}?taskId={taskId}` },
      modes: MODES.map((mode) => ({ mode, priceUsd: microsToUsd(config.prices[model][mode]), default: mode === facts.defaultMode })),
      generationTypes: model === 'veo-3-1' ? [...GENERATION_TYPES] : [],
      aspectRatios: model === 'veo-3-1' ? [...ASPECT_RATIOS] : [],
      output: { container: 'mp4', seconds: facts.seconds },
      limits: limitsOf(model),
      inputSchema: REQUEST_SCHEMAS[model],
    };
  });
}

/** Where APIXO's MCP server looks: `{docs base}/models/schemas/index.json`, the docs base being `{origin}/docs`. */
export const SCHEMA_INDEX_PATH = '/docs/models/schemas/index.json';
export const SCHEMA_DIR = '/docs/models/schemas';

/**
 * The index in the shape APIXO publishes at apixo.ai/docs/models/schemas/index.json and its MCP
 * server's `list_models` reads. `schema_path` and `doc_path` are relative to the docs base
 * (`{origin}/docs`), as that client resolves them.
 */
export function schemaIndex(): { schema_version: string; total_models: number; models: Array<Record<string, string>> } {
  const models = (Object.keys(FACTS) as Model[]).map((model) => ({
    model_id: model,
    slug: model,
    category: 'video',
    title: FACTS[model].title,
    integration_type: 'task_api',
    schema_path: `models/schemas/${model}.json`,
    doc_path: 'api',
  }));
  return { schema_version: '1', total_models: models.length, models };
}

/** One model's schema document (what `get_model_schema` returns): the catalogue entry in APIXO's snake_case, and its examples. */
export function schemaDocument(config: Pick<Config, 'prices'>, model: Model): Record<string, unknown> {
  const entry = modelCatalogue(config).find((m) => m.model === model)!;
  const schema = entry.inputSchema;
  return {
    schema_version: '1',
    model_id: model,
    slug: model,
    title: entry.title,
    description: entry.summary,
    category: entry.category,
    integration_type: 'task_api',
    endpoint: entry.submit,
    status_endpoint: entry.status,
    pricing: entry.modes.map((m) => ({ mode: m.mode, price_usd: m.priceUsd, default: m.default })),
    generation_types: entry.generationTypes,
    aspect_ratios: entry.aspectRatios,
    limits: entry.limits,
    request_schema: schema,
    examples: schema.examples ?? [],
  };
}

import { type CallbackEvent, parseCallbackEvents } from './callback-events.js';
import { isTaskId } from './ids.js';
import {
  ASPECT_RATIOS,
  type AspectRatio,
  type ExtendInput,
  GENERATION_TYPES,
  type GenerateInput,
  type GenerationType,
  MODES,
  type Mode,
  type Model,
  REQUEST_TYPES,
  type RequestType,
  STRATEGIES,
  type Strategy,
  type TaskInput,
} from './models.js';
import { isBlankText } from './unicode-text.js';

/** A submit body after validation: every field typed and defaulted. */
export interface SubmitRequest {
  requestType: RequestType;
  callbackUrl: string | null;
  /** Extension: the events a callback task is sent; null = the default (its end only). */
  callbackEvents: readonly CallbackEvent[] | null;
  provider: Strategy | null;
  input: TaskInput;
}

/** A rule broken by the request; `failCode` is set when the source task is the problem. */
interface Invalid {
  ok: false;
  field: string;
  error: string;
  failCode?: 'TASKID_ERROR';
}

export type Validated<T> = { ok: true; value: T } | Invalid;

export const MAX_PROMPT_CHARS = 10_000;
export const MAX_WATERMARK_CHARS = 64;
export const MAX_SEED = 4_294_967_295;

const invalid = (field: string, error: string): Invalid => ({ ok: false, field, error });

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const codePoints = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

export interface SubmitRules {
  /** The operator switch LONGSHOT_ALLOW_PRIVATE_CALLBACKS also allows `http:` callback URLs. */
  allowHttpCallback?: boolean;
}

/**
 * Validates a submit body for `model` without coercing any type: `"prompt": 1` is an error, not
 * "1". Unknown fields are ignored, as APIXO does (so are `callback_url` and `callback_events`
 * unless request_type is callback). `randomSeed` supplies the seed when none is given.
 */
export function validateSubmit(model: Model, body: unknown, randomSeed: () => number, rules: SubmitRules = {}): Validated<SubmitRequest> {
  if (!isObject(body)) return invalid('body', 'body must be a JSON object');

  const requestType = oneOf(body, 'request_type', REQUEST_TYPES, 'async');
  if (!requestType.ok) return requestType;

  let callbackUrl: string | null = null;
  let callbackEvents: readonly CallbackEvent[] | null = null;
  if (requestType.value === 'callback') {
    const events = parseCallbackEvents(body.callback_events);
    if (!events.ok) return events;
    callbackEvents = events.value;
    const url = body.callback_url;
    if (url === undefined || url === null) return invalid('callback_url', 'callback_url is required when request_type is callback');
    if (typeof url !== 'string') return invalid('callback_url', 'callback_url must be a string');
    if (!isHttpUrl(url, rules.allowHttpCallback === true)) {
      return invalid('callback_url', rules.allowHttpCallback ? 'callback_url must be an absolute http(s) URL' : 'callback_url must be an absolute https URL');
    }
    callbackUrl = url;
  }

  let provider: Strategy | null = null;
  if (body.provider !== undefined && body.provider !== null) {
    const p = oneOf(body, 'provider', STRATEGIES, 'auto');
    if (!p.ok) return p;
    provider = p.value;
  }

  const input = body.input;
  if (input === undefined || input === null) return invalid('input', 'input is required');
  if (!isObject(input)) return invalid('input', 'input must be an object');

  const parsed = model === 'veo-3-1' ? validateGenerate(input, randomSeed) : validateExtend(input, randomSeed);
  if (!parsed.ok) return parsed;
  return { ok: true, value: { requestType: requestType.value, callbackUrl, callbackEvents, provider, input: parsed.value } };
}

function validateGenerate(input: Obj, randomSeed: () => number): Validated<GenerateInput> {
  const prompt = promptField(input);
  if (!prompt.ok) return prompt;
  const generationType = oneOf<GenerationType>(input, 'generationType', GENERATION_TYPES, 'TEXT_2_VIDEO', 'input.');
  if (!generationType.ok) return generationType;
  const isReference = generationType.value === 'REFERENCE_2_VIDEO';
  // REFERENCE_2_VIDEO exists only in fast mode at 16:9, so those become its defaults.
  const mode = oneOf<Mode>(input, 'mode', MODES, isReference ? 'fast' : 'quality', 'input.');
  if (!mode.ok) return mode;
  const aspectRatio = oneOf<AspectRatio>(input, 'aspect_ratio', ASPECT_RATIOS, isReference ? '16:9' : '16:9', 'input.');
  if (!aspectRatio.ok) return aspectRatio;

  const images = imageUrlsField(input, generationType.value);
  if (!images.ok) return images;
  if (isReference) {
    if (mode.value !== 'fast') return invalid('input.mode', 'input.mode must be fast for REFERENCE_2_VIDEO');
    if (aspectRatio.value === '9:16') return invalid('input.aspect_ratio', 'input.aspect_ratio must be 16:9 for REFERENCE_2_VIDEO');
  }

  const watermark = watermarkField(input);
  if (!watermark.ok) return watermark;
  const seed = seedField(input, randomSeed);
  if (!seed.ok) return seed;
  const enableTranslation = input.enableTranslation;
  if (enableTranslation !== undefined && enableTranslation !== null && typeof enableTranslation !== 'boolean') {
    return invalid('input.enableTranslation', 'input.enableTranslation must be a boolean');
  }
  return {
    ok: true,
    value: {
      prompt: prompt.value,
      mode: mode.value,
      generationType: generationType.value,
      aspectRatio: isReference && aspectRatio.value === 'auto' ? '16:9' : aspectRatio.value,
      imageUrls: images.value,
      watermark: watermark.value,
      seed: seed.value,
      enableTranslation: enableTranslation === true,
    },
  };
}

function validateExtend(input: Obj, randomSeed: () => number): Validated<ExtendInput> {
  const taskId = input.taskId;
  if (taskId === undefined || taskId === null || taskId === '') return invalid('input.taskId', 'input.taskId is required');
  if (typeof taskId !== 'string') return invalid('input.taskId', 'input.taskId must be a string');
  if (!isTaskId(taskId)) {
    return { ok: false, field: 'input.taskId', error: 'input.taskId is not a task id of this service', failCode: 'TASKID_ERROR' };
  }
  const prompt = promptField(input);
  if (!prompt.ok) return prompt;
  const mode = oneOf<Mode>(input, 'mode', MODES, 'fast', 'input.');
  if (!mode.ok) return mode;
  const watermark = watermarkField(input);
  if (!watermark.ok) return watermark;
  const seed = seedField(input, randomSeed);
  if (!seed.ok) return seed;
  return { ok: true, value: { taskId, prompt: prompt.value, mode: mode.value, watermark: watermark.value, seed: seed.value } };
}

function oneOf<T extends string>(obj: Obj, key: string, allowed: readonly T[], fallback: T, prefix = ''): Validated<T> {
  const v = obj[key];
  const field = prefix + key;
  if (v === undefined || v === null) return { ok: true, value: fallback };
  if (typeof v !== 'string') return invalid(field, `${field} must be a string`);
  if (!(allowed as readonly string[]).includes(v)) return invalid(field, `${field} must be one of ${allowed.join(', ')}`);
  return { ok: true, value: v as T };
}

function promptField(input: Obj): Validated<string> {
  const p = input.prompt;
  if (p === undefined || p === null) return invalid('input.prompt', 'input.prompt is required');
  if (typeof p !== 'string') return invalid('input.prompt', 'input.prompt must be a string');
  // Zero-width and other format characters draw nothing: a prompt of only those is empty too.
  if (isBlankText(p)) return invalid('input.prompt', 'input.prompt must not be empty or only whitespace or invisible characters');
  if (codePoints(p) > MAX_PROMPT_CHARS) return invalid('input.prompt', `input.prompt must be at most ${MAX_PROMPT_CHARS} characters`);
  return { ok: true, value: p };
}

function watermarkField(input: Obj): Validated<string | null> {
  const w = input.watermark;
  if (w === undefined || w === null || w === '') return { ok: true, value: null };
  if (typeof w !== 'string') return invalid('input.watermark', 'input.watermark must be a string');
  if (codePoints(w) > MAX_WATERMARK_CHARS) return invalid('input.watermark', `input.watermark must be at most ${MAX_WATERMARK_CHARS} characters`);
  return { ok: true, value: w };
}

function seedField(input: Obj, randomSeed: () => number): Validated<number> {
  const s = input.seed;
  if (s === undefined || s === null) return { ok: true, value: randomSeed() };
  if (typeof s !== 'number' || !Number.isInteger(s)) return invalid('input.seed', 'input.seed must be an integer');
  if (s < 0 || s > MAX_SEED) return invalid('input.seed', `input.seed must be between 0 and ${MAX_SEED}`);
  return { ok: true, value: s };
}

/** How many `image_urls` each generation type takes, [min, max]. */
export const IMAGE_LIMITS: Record<GenerationType, readonly [number, number]> = {
  TEXT_2_VIDEO: [0, 0],
  FIRST_AND_LAST_FRAMES_2_VIDEO: [1, 2],
  REFERENCE_2_VIDEO: [1, 3],
};

function imageUrlsField(input: Obj, type: GenerationType): Validated<string[]> {
  const v = input.image_urls;
  const [min, max] = IMAGE_LIMITS[type];
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) {
    if (min > 0) return invalid('input.image_urls', `input.image_urls is required for ${type} (${min}-${max} URLs)`);
    return { ok: true, value: [] };
  }
  if (!Array.isArray(v)) return invalid('input.image_urls', 'input.image_urls must be an array of URLs');
  if (max === 0) return invalid('input.image_urls', `input.image_urls is not allowed for ${type}`);
  if (v.length > max) return invalid('input.image_urls', `input.image_urls takes at most ${max} URLs for ${type}`);
  for (let i = 0; i < v.length; i++) {
    const u = v[i];
    if (typeof u !== 'string') return invalid(`input.image_urls[${i}]`, `input.image_urls[${i}] must be a string`);
    if (!isHttpUrl(u, true)) return invalid(`input.image_urls[${i}]`, `input.image_urls[${i}] must be an absolute http(s) URL`);
  }
  return { ok: true, value: v as string[] };
}

/** Syntax only; whether the host is public is the network guard's question. */
function isHttpUrl(value: string, allowHttp = false): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol === 'https:') return url.hostname !== '';
  return allowHttp && url.protocol === 'http:' && url.hostname !== '';
}

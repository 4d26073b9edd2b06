import { Type } from 'typebox';
import { CALLBACK_EVENTS } from '../../domain/callback-events.js';
import { ASPECT_RATIOS, GENERATION_TYPES, MODELS, MODES, REQUEST_TYPES, STRATEGIES } from '../../domain/models.js';
import { IMAGE_LIMITS, MAX_PROMPT_CHARS, MAX_SEED, MAX_WATERMARK_CHARS } from '../../domain/validate-submit.js';
import { ADDITION, errorResponses, okResponse } from './envelope.js';

/**
 * The submit bodies as JSON schemas, for the document only: validate-submit.ts is what validates
 * them (it names fields in its own words and never coerces). Both draw on the same constants,
 * and test/openapi-submit.test.ts checks that whatever this schema accepts the validator accepts
 * too, and that every field documented here is one the validator checks.
 */

/** At least one character that draws something (validate-submit.ts: isBlankText). */
const VISIBLE = '[^\\p{White_Space}\\p{Cf}\\p{Default_Ignorable_Code_Point}]';
const TASK_ID = '^[0-9a-f]{32}$';
/** An absolute http(s) URL with a host; whether the host is public is checked at fetch time. */
const HTTP_URL = '^https?://[^/?#\\s]+(?:[/?#]\\S*)?$';
const HTTPS_URL = HTTP_URL.replace('https?', 'https');

const prompt = Type.String({
  minLength: 1,
  maxLength: MAX_PROMPT_CHARS,
  pattern: VISIBLE,
  description: `What the video shows: 1–${MAX_PROMPT_CHARS} Unicode code points, not only white space or invisible characters.`,
});
const watermark = Type.String({
  maxLength: MAX_WATERMARK_CHARS,
  description: `Text of at most ${MAX_WATERMARK_CHARS} characters drawn on the video; empty means none.`,
});
const seed = Type.Integer({ minimum: 0, maximum: MAX_SEED, description: 'Makes a render repeatable; drawn at submit and stored when absent.' });

const common = {
  request_type: Type.Optional(
    Type.Enum(REQUEST_TYPES, { description: '`async` (the default): poll statusTask. `callback`: the result is also POSTed to `callback_url`.' }),
  ),
  callback_url: Type.Optional(
    Type.String({
      pattern: HTTPS_URL,
      description: 'Required when `request_type` is `callback`: an absolute https URL whose host is public (docs/webhooks.md). Ignored otherwise.',
    }),
  ),
  callback_events: Type.Optional(
    Type.Array(Type.Enum(CALLBACK_EVENTS), {
      minItems: 1,
      uniqueItems: true,
      description:
        'Longshot addition. With `request_type: callback`: the events POSTed to `callback_url`, any of `processing`, `progress` (at most one per 5 s), `success`, `failed`; default `["success","failed"]` (docs/webhooks.md). Ignored otherwise.',
      ...ADDITION,
    }),
  ),
  provider: Type.Optional(
    Type.Enum(STRATEGIES, { description: "The route to engines (docs/contract.md §6); defaults to the key's default strategy, else `auto`." }),
  ),
};

/** JSON Schema's `if`/`then`: a rule between fields (an object with `then`, but no thenable: nothing awaits it). */
function when(condition: object, then: object): object {
  return { if: condition, then };
}

/** `request_type: callback` needs a `callback_url`. */
const callbackNeedsUrl = { allOf: [when({ properties: { request_type: { const: 'callback' } }, required: ['request_type'] }, { required: ['callback_url'] })] };

const imageUrls = Type.Array(Type.String({ pattern: HTTP_URL }), {
  description:
    'http(s) URLs of JPEG, PNG or WebP images of at most 10 MB each. None for TEXT_2_VIDEO; 1–2 for FIRST_AND_LAST_FRAMES_2_VIDEO; 1–3 for REFERENCE_2_VIDEO.',
});

const typeIs = (t: string) => ({ properties: { generationType: { const: t } }, required: ['generationType'] });
const [, firstLastMax] = IMAGE_LIMITS.FIRST_AND_LAST_FRAMES_2_VIDEO;
const [, referenceMax] = IMAGE_LIMITS.REFERENCE_2_VIDEO;

const GenerateInput = Type.Object(
  {
    prompt,
    mode: Type.Optional(Type.Enum(MODES, { description: '`quality` (the default; `fast` for REFERENCE_2_VIDEO) or `fast`.' })),
    generationType: Type.Optional(Type.Enum(GENERATION_TYPES, { description: 'TEXT_2_VIDEO is the default.' })),
    aspect_ratio: Type.Optional(
      Type.Enum(ASPECT_RATIOS, { description: "`16:9` (the default), `9:16`, or `auto`: the first image's orientation as displayed, else 16:9." }),
    ),
    image_urls: Type.Optional(imageUrls),
    watermark: Type.Optional(watermark),
    seed: Type.Optional(seed),
    enableTranslation: Type.Optional(Type.Boolean({ description: 'Accepted for APIXO compatibility.' })),
  },
  {
    description: 'Unknown fields are ignored; `null` counts as absent.',
    // The rules between fields that validate-submit.ts checks, in its order.
    allOf: [
      when(typeIs('FIRST_AND_LAST_FRAMES_2_VIDEO'), { required: ['image_urls'], properties: { image_urls: { minItems: 1, maxItems: firstLastMax } } }),
      when(typeIs('REFERENCE_2_VIDEO'), {
        required: ['image_urls'],
        properties: { image_urls: { minItems: 1, maxItems: referenceMax }, mode: { const: 'fast' }, aspect_ratio: { enum: ['16:9', 'auto'] } },
      }),
      when({ not: { anyOf: [typeIs('FIRST_AND_LAST_FRAMES_2_VIDEO'), typeIs('REFERENCE_2_VIDEO')] } }, { properties: { image_urls: { maxItems: 0 } } }),
    ],
  },
);

const ExtendInput = Type.Object(
  {
    taskId: Type.String({
      pattern: TASK_ID,
      description: 'The source: a `success` task of this account, of either model, still retained (docs/contract.md §3).',
    }),
    prompt,
    mode: Type.Optional(Type.Enum(MODES, { description: '`fast` (the default) or `quality`.' })),
    watermark: Type.Optional(watermark),
    seed: Type.Optional(seed),
  },
  { description: 'Unknown fields are ignored; `null` counts as absent.' },
);

const examples = {
  generate: [
    { request_type: 'async', input: { prompt: 'a calm ocean at sunset', mode: 'fast' } },
    { input: { prompt: 'a lighthouse on a cliff at dusk', aspect_ratio: '9:16', watermark: 'Longshot', seed: 42 } },
    {
      input: {
        prompt: 'the camera glides from the first picture to the second',
        mode: 'fast',
        generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO',
        image_urls: ['https://example.com/first.jpg', 'https://example.com/last.jpg'],
      },
    },
    { request_type: 'callback', callback_url: 'https://example.com/hooks/longshot', input: { prompt: 'rain on a window', mode: 'fast' } },
  ],
  extend: [{ input: { taskId: '0190a1b2c3d47e5f8a9b0c1d2e3f4a5b', prompt: 'continue with a smooth camera move', mode: 'fast' } }],
};

export const GenerateTaskRequest = Type.Object(
  { ...common, input: GenerateInput },
  {
    $id: 'GenerateTaskRequest',
    title: 'GenerateTaskRequest',
    description: 'The body of a `veo-3-1` submit.',
    ...callbackNeedsUrl,
    examples: examples.generate,
  },
);
export const ExtendTaskRequest = Type.Object(
  { ...common, input: ExtendInput },
  {
    $id: 'ExtendTaskRequest',
    title: 'ExtendTaskRequest',
    description: 'The body of a `veo-3-1-extend` submit: the whole source followed by a 7 s continuation.',
    ...callbackNeedsUrl,
    examples: examples.extend,
  },
);

/** POST /api/v1/generateTask/{model}: the document's view of the route; nothing here validates. */
export const submitSchema = {
  operationId: 'generateTask',
  tags: ['apixo'],
  summary: 'Submit a generation (veo-3-1) or an extension (veo-3-1-extend)',
  description:
    'The body is GenerateTaskRequest for `veo-3-1` and ExtendTaskRequest for `veo-3-1-extend`. Submit places a hold for the price in the same transaction that writes the task (docs/contract.md §4).',
  params: Type.Object({ model: Type.Enum(MODELS, { description: 'Any other model is a 404.' }) }),
  headers: Type.Object({
    'Idempotency-Key': Type.Optional(
      Type.String({
        pattern: '^[\\x21-\\x7e]{1,255}$',
        description: 'The same key with the same body within 24 h returns the first answer (`Idempotent-Replayed: true`); with another body, 422.',
        ...ADDITION,
      }),
    ),
  }),
  body: Type.Union([Type.Ref('GenerateTaskRequest'), Type.Ref('ExtendTaskRequest')], {
    // Named examples of the request body (the reference page offers them in a list).
    'x-examples': Object.fromEntries([
      ...examples.generate.map((value, i) => [`veo-3-1 #${i + 1}`, { summary: `veo-3-1: ${value.input.prompt}`, value }]),
      ...examples.extend.map((value, i) => [`veo-3-1-extend #${i + 1}`, { summary: `veo-3-1-extend: ${value.input.prompt}`, value }]),
    ]),
  }),
  response: {
    200: okResponse('Accepted: the task is `pending`.', Type.Object({ taskId: Type.String({ pattern: TASK_ID }) }), {
      headers: { 'Idempotent-Replayed': { type: 'string', enum: ['true'], description: 'A replay of an earlier answer to the same Idempotency-Key.' } },
    }),
    ...errorResponses({
      400: 'a body that is not a JSON object, a missing or invalid field (`data.field` names it), `Content-Type` not application/json, a malformed Idempotency-Key, an unusable extend source (`failCode: TASKID_ERROR`), a refused `callback_url`.',
      402: 'the available balance is below the price (`data.required`, `data.available`, `failCode: INSUFFICIENT_BALANCE`); nothing is held.',
      403: 'the key may not use this model or `provider`, or the task the extend names (`field: input.taskId`).',
      404: 'a model this API does not serve.',
      413: 'a body over the limit (1 MiB by default).',
      422: 'the Idempotency-Key was used with another body within 24 h.',
      429: "the key's submits per minute or unfinished tasks are at their limit (`data.retryAfter`).",
    }),
  },
};

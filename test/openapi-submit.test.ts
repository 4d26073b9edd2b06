import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENERATION_TYPES, type Model, STRATEGIES } from '../src/domain/models.js';
import { MAX_PROMPT_CHARS, MAX_SEED, MAX_WATERMARK_CHARS, validateSubmit } from '../src/domain/validate-submit.js';
import { compile, type Doc, fetchDocument } from './support/openapi.js';
import { startTestService, type TestService } from './support/service.js';

/**
 * The submit bodies are validated by validate-submit.ts and documented by a schema that only
 * documents (src/http/schemas/submit.ts). These keep the two in step: what the document accepts
 * the validator accepts, every documented field is one the validator checks, and every field the
 * validator reads is documented.
 */
const MODELS_SCHEMAS: Record<Model, string> = { 'veo-3-1': 'GenerateTaskRequest', 'veo-3-1-extend': 'ExtendTaskRequest' };
const TASK_ID = '0'.repeat(32);

let t: TestService;
let doc: Doc;
beforeAll(async () => {
  t = await startTestService({}, { workers: false });
  doc = await fetchDocument(t);
});
afterAll(() => t?.close());

const schemaOf = (model: Model) => doc.components.schemas[MODELS_SCHEMAS[model]];
const documentAccepts = (model: Model, body: unknown) => compile(doc, schemaOf(model))(body) as boolean;
const validate = (model: Model, body: unknown) => validateSubmit(model, body, () => 7);

/**
 * What the document refuses and the validator takes: a `callback_url` or `callback_events` of a
 * task that is not a callback one, which the validator ignores whatever it is (the document
 * types them anyway).
 */
function onlyIgnoredCallbackUrl(model: Model, body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const { callback_url, callback_events, ...rest } = body as Record<string, unknown>;
  return (callback_url !== undefined || callback_events !== undefined) && rest.request_type !== 'callback' && documentAccepts(model, rest);
}

describe('the documented submit bodies and validate-submit.ts', () => {
  it('accept every example of the document, and the service takes those without a callback', async () => {
    const body = doc.paths['/api/v1/generateTask/{model}']!.post.requestBody.content['application/json'];
    const named = Object.entries(body.examples as Record<string, { value: any }>).map(
      ([name, e]) => [name.startsWith('veo-3-1-extend') ? 'veo-3-1-extend' : 'veo-3-1', e.value] as const,
    );
    const own = (['veo-3-1', 'veo-3-1-extend'] as const).flatMap((model) => (schemaOf(model).examples as any[]).map((value) => [model, value] as const));
    expect(named.length).toBeGreaterThanOrEqual(4);
    for (const [model, value] of [...named, ...own]) {
      expect({ model, value, document: documentAccepts(model, value) }).toEqual({ model, value, document: true });
      expect({ model, value, validator: validate(model, value).ok }).toEqual({ model, value, validator: true });
    }
    // Over HTTP (an extend needs a real source, a callback a resolvable host: the validator alone is asked about those).
    for (const [model, value] of named.filter(([m, v]) => m === 'veo-3-1' && v.callback_url === undefined)) {
      const res = await t.api('POST', `/api/v1/generateTask/${model}`, { body: value });
      expect({ value, status: res.status, error: res.body.data?.error }).toEqual({ value, status: 200, error: undefined });
    }
  });

  /** Mostly values the API takes, so that many whole bodies are valid too, and some it refuses. */
  const pick = (valid: unknown[], invalid: unknown[]) =>
    fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...valid) }, { weight: 1, arbitrary: fc.constantFrom(...invalid) });
  const prompt = pick(
    ['a calm sea', 'x'.repeat(MAX_PROMPT_CHARS), '😀'.repeat(MAX_PROMPT_CHARS)],
    ['x'.repeat(MAX_PROMPT_CHARS + 1), '', '  \t', '\u200b\u2060', 5],
  );
  const mode = pick(['fast', 'quality'], ['turbo', 1]);
  const watermark = pick(['', 'LS', 'w'.repeat(MAX_WATERMARK_CHARS)], ['w'.repeat(MAX_WATERMARK_CHARS + 1), 5]);
  const seed = pick([0, 42, MAX_SEED], [MAX_SEED + 1, -1, 1.5, '7']);
  const url = pick(['https://a.example/1.png', 'http://b.example/2.jpg?x=1'], ['ftp://c.example/3.png', 'not a url', 'https://', 5]);
  const generateInput = fc.record(
    {
      prompt,
      mode,
      generationType: pick([...GENERATION_TYPES], ['TEXT', 3]),
      aspect_ratio: pick(['16:9', '9:16', 'auto'], ['4:3']),
      image_urls: fc.oneof({ weight: 8, arbitrary: fc.array(url, { maxLength: 4 }) }, { weight: 1, arbitrary: fc.constant('https://a.example/1.png') }),
      watermark,
      seed,
      enableTranslation: pick([true, false], ['yes']),
      somethingElse: fc.constant({ ignored: true }),
    },
    { requiredKeys: ['prompt'] },
  );
  const extendInput = fc.record(
    { taskId: pick([TASK_ID], ['A'.repeat(32), 'abc', '', 5]), prompt, mode, watermark, seed, somethingElse: fc.constant(1) },
    { requiredKeys: ['taskId', 'prompt'] },
  );
  const bodyWith = (input: fc.Arbitrary<unknown>) =>
    fc.oneof(
      {
        weight: 20,
        arbitrary: fc.record(
          {
            request_type: pick(['async', 'callback'], ['sync', 5]),
            callback_url: pick(['https://hooks.example/x'], ['http://hooks.example/x', 'not a url', 5]),
            callback_events: pick([['success'], ['processing', 'progress', 'failed']], ['success', [], ['done'], ['failed', 'failed']]),
            provider: pick([...STRATEGIES], ['cheap']),
            input: fc.oneof({ weight: 9, arbitrary: input }, { weight: 1, arbitrary: fc.constantFrom(5, [], 'x') }),
            unknown: fc.constant('ignored'),
          },
          { requiredKeys: ['input'] },
        ),
      },
      { weight: 1, arbitrary: fc.constantFrom([], 'x', 5, {}) },
    );

  it.each([
    ['veo-3-1', bodyWith(generateInput)],
    ['veo-3-1-extend', bodyWith(extendInput)],
  ] as const)('agree on %s bodies: what the document accepts, the validator accepts, and the other way round', (model, bodies) => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(bodies, (body) => {
        const document = documentAccepts(model, body);
        const { ok } = validate(model, body);
        if (document) accepted++;
        if (!ok) refused++;
        if (document) expect({ body, validator: ok }).toEqual({ body, validator: true });
        else if (ok) expect({ body, onlyIgnoredCallbackUrl: onlyIgnoredCallbackUrl(model, body) }).toEqual({ body, onlyIgnoredCallbackUrl: true });
      }),
      { numRuns: 3000, seed: 20260101 },
    );
    // Both sides were exercised.
    expect(accepted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(1000);
  });

  it.each(['veo-3-1', 'veo-3-1-extend'] as const)('check every field %s documents: a wrong type is refused, naming it', (model) => {
    const base = model === 'veo-3-1' ? { input: { prompt: 'x' } } : { input: { taskId: TASK_ID, prompt: 'x' } };
    const wrong = (schema: any) => (schema.type === 'string' || schema.enum ? 12345 : 'wrong');
    const schema = schemaOf(model);
    const fields: Array<[string, unknown]> = [
      ...Object.entries(schema.properties as Record<string, any>).map(([name, s]) => [name, s] as [string, unknown]),
      ...Object.entries(schema.properties.input.properties as Record<string, any>).map(([name, s]) => [`input.${name}`, s] as [string, unknown]),
    ];
    expect(fields.length).toBeGreaterThanOrEqual(model === 'veo-3-1' ? 12 : 9);
    for (const [field, s] of fields) {
      const body = structuredClone(base) as any;
      if (field === 'callback_url' || field === 'callback_events') body.request_type = 'callback';
      if (field === 'callback_events') body.callback_url = 'https://hooks.example/x';
      if (field.startsWith('input.')) body.input[field.slice(6)] = wrong(s);
      else body[field] = wrong(s);
      const out = validate(model, body);
      expect({ field, refused: !out.ok, named: out.ok ? null : out.field }).toEqual({ field, refused: true, named: field });
      expect(documentAccepts(model, body), field).toBe(false);
    }
  });

  it.each(['veo-3-1', 'veo-3-1-extend'] as const)('document every field the validator reads for %s', (model) => {
    const full =
      model === 'veo-3-1'
        ? {
            request_type: 'callback',
            callback_url: 'https://hooks.example/x',
            callback_events: ['progress'],
            provider: 'auto',
            input: { prompt: 'x', seed: 1 },
          }
        : { request_type: 'async', provider: 'value', input: { taskId: TASK_ID, prompt: 'x' } };
    const out = validate(model, full);
    if (!out.ok) throw new Error(out.error);
    // Names the validator gives what it read, and the body's names for them.
    const bodyName: Record<string, string> = {
      requestType: 'request_type',
      callbackUrl: 'callback_url',
      callbackEvents: 'callback_events',
      aspectRatio: 'aspect_ratio',
      imageUrls: 'image_urls',
    };
    const schema = schemaOf(model);
    const { input, ...top } = out.value;
    for (const key of Object.keys(top)) expect(Object.keys(schema.properties), key).toContain(bodyName[key] ?? key);
    expect(Object.keys(schema.properties)).toContain('input');
    for (const key of Object.keys(input)) expect(Object.keys(schema.properties.input.properties), `input.${key}`).toContain(bodyName[key] ?? key);
  });
});

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBalance } from '../src/db/ledger-repo.js';
import { startTestService, type TestService } from './support/service.js';

/**
 * Any body, any Idempotency-Key, any Content-Type on the two submit routes: never a 5xx, always
 * our envelope, and a refusal leaves no trace (no task, no hold, no remembered key). Workers are
 * off so accepted tasks stay pending instead of rendering.
 */
let t: TestService;
let account: { accountId: string; key: string };
beforeAll(async () => {
  t = await startTestService({}, { workers: false });
  // Enough credit that valid bodies keep being accepted rather than turning into 402s.
  account = await t.newAccount('fuzz', 1_000_000);
});
afterAll(() => t?.close());

// FUZZ_RUNS=5000 fuzzes longer by hand; the default keeps the suite fast on two cores.
const RUNS = Number(process.env.FUZZ_RUNS ?? 250);

// --- JSON text, built piece by piece so it can hold what JSON.stringify never writes ---

const asciiChar = (min: number, max: number) => fc.integer({ min, max }).map((c) => String.fromCharCode(c));

const keyText = fc
  .oneof(
    fc.constantFrom('input', 'prompt', 'mode', 'seed', 'taskId', 'request_type', 'callback_url', 'provider', 'watermark', 'image_urls'),
    fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', ''),
    fc.string({ unit: 'binary', maxLength: 12 }),
  )
  .map((k) => JSON.stringify(k));
// The escaped spelling of __proto__ gets past a naive text check for the key.
const rawKeyText = fc.oneof({ weight: 9, arbitrary: keyText }, { weight: 1, arbitrary: fc.constant('"\\u005f_proto__"') });

const numberText = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
  fc.bigInt({ min: -(10n ** 400n), max: 10n ** 400n }).map(String),
  fc.constantFrom('1e400', '-1e400', '1e-400', '-0', '4294967295', '4294967296', '9007199254740993', '1.0', '1E2'),
);

const stringText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }).map((s) => JSON.stringify(s)),
  fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('"\\ud800"', '"\\u0000"', '"\\u200b\\u200d"', '""', '" "', '"\\uFEFF"'),
);

const { value: jsonText } = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', maxDepth: 4 }, numberText, stringText, fc.constantFrom('true', 'false', 'null'), tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }).map((xs) => `[${xs.join(',')}]`),
  object: fc.array(fc.tuple(rawKeyText, tie('value')), { maxLength: 5 }).map((kv) => `{${kv.map(([k, v]) => `${k}:${v}`).join(',')}}`),
}));

/** Mostly a value the validator accepts for the field, sometimes anything at all. */
const plausible = <T>(valid: fc.Arbitrary<T>): fc.Arbitrary<string> =>
  fc.oneof({ weight: 8, arbitrary: valid.map((v) => JSON.stringify(v)) }, { weight: 1, arbitrary: jsonText });

const objectText = (fields: Record<string, string>, extra: Array<[string, string]>): string =>
  `{${[...Object.entries(fields).map(([k, v]) => `${JSON.stringify(k)}:${v}`), ...extra.map(([k, v]) => `${k}:${v}`)].join(',')}}`;

const hex32 = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 });

const inputText = fc
  .tuple(
    fc.record(
      {
        prompt: plausible(fc.oneof(fc.constantFrom('a calm sea', 'a n u d e figure', '\u200B\u200B', ' '), fc.string({ unit: 'grapheme', maxLength: 30 }))),
        mode: plausible(fc.constantFrom('fast', 'quality', 'turbo')),
        generationType: plausible(fc.constantFrom('TEXT_2_VIDEO', 'FIRST_AND_LAST_FRAMES_2_VIDEO', 'REFERENCE_2_VIDEO')),
        aspect_ratio: plausible(fc.constantFrom('16:9', '9:16', 'auto', '1:1')),
        image_urls: plausible(fc.array(fc.constantFrom('https://93.184.215.14/a.png', 'http://127.0.0.1/b.jpg', 'ftp://x/y', 'not a url'), { maxLength: 4 })),
        watermark: plausible(fc.string({ maxLength: 70 })),
        seed: plausible(fc.oneof(fc.integer({ min: -5, max: 2 ** 32 + 5 }), fc.double({ noNaN: true, noDefaultInfinity: true }))),
        enableTranslation: plausible(fc.boolean()),
        taskId: plausible(fc.oneof(hex32, fc.string({ maxLength: 40 }))),
      },
      { requiredKeys: [] },
    ),
    fc.array(fc.tuple(rawKeyText, jsonText), { maxLength: 2 }),
  )
  .map(([fields, extra]) => objectText(fields, extra));

const submitText = fc
  .tuple(
    fc.record(
      {
        request_type: plausible(fc.constantFrom('async', 'callback', 'sync')),
        // IP literals only: a host name would send the callback check to DNS.
        callback_url: plausible(fc.constantFrom('https://93.184.215.14/hook', 'http://93.184.215.14/hook', 'https://10.0.0.1/hook', 'https://[::1]/x')),
        provider: plausible(fc.constantFrom('auto', 'value', 'official', 'local', 'nope')),
        input: fc.oneof({ weight: 4, arbitrary: inputText }, { weight: 1, arbitrary: jsonText }),
      },
      { requiredKeys: [] },
    ),
    fc.array(fc.tuple(rawKeyText, jsonText), { maxLength: 2 }),
  )
  .map(([fields, extra]) => objectText(fields, extra));

/** Nesting around the limit and far past it, at the top level or inside `input`. */
const deepText = fc
  .record({
    levels: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 41, max: 6000 })),
    shape: fc.constantFrom<[string, string]>(['[', ']'], ['{"a":', '}'], ['{"":', '}'], ['[1,', ']'], ['{"__proto__":', '}']),
    inInput: fc.boolean(),
  })
  .map(({ levels, shape: [open, close], inInput }) => {
    const deep = `${open.repeat(levels)}1${close.repeat(levels)}`;
    return inInput ? `{"input":{"prompt":"a calm sea","mode":"fast","x":${deep}}}` : `{"input":{"prompt":"a calm sea","mode":"fast"},"x":${deep}}`;
  });

/** Thousands of fields or elements beside a valid input. */
const wideText = fc.record({ n: fc.integer({ min: 100, max: 20_000 }), asObject: fc.boolean() }).map(({ n, asObject }) => {
  const items = Array.from({ length: n }, (_, i) => (asObject ? `"k${i}":${i}` : String(i)));
  return `{"input":{"prompt":"a calm sea","mode":"fast"},"w":${asObject ? `{${items.join(',')}}` : `[${items.join(',')}]`}}`;
});

const notJson = fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.constantFrom('', 'null', '[]', '"x"', '1', '{"input":', '{"input":{"prompt":"a"}}}'));

const bodyText = fc.oneof(
  { weight: 6, arbitrary: submitText },
  { weight: 2, arbitrary: jsonText },
  { weight: 1, arbitrary: deepText },
  { weight: 1, arbitrary: wideText },
  { weight: 1, arbitrary: notJson },
);

// --- headers: fetch refuses NUL, CR, LF and anything above U+00FF, so values stay within that ---

const headerValue = fc.string({ unit: fc.oneof(asciiChar(0x20, 0x7e), asciiChar(0x80, 0xff)), maxLength: 40 });
// Mostly what a client sends, so that bodies reach validation; the rest tries the parser's edges.
const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  {
    weight: 2,
    arbitrary: fc.constantFrom('application/json; charset=utf-8', 'Application/JSON', 'application/json; charset=utf-16', 'application/json; charset=latin1'),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/vnd.api+json',
      'application/json, text/plain',
      ';',
      '',
    ),
  },
  { weight: 1, arbitrary: headerValue },
  { weight: 1, arbitrary: fc.constant(undefined) },
);
const idempotencyKey = fc.oneof(
  { weight: 5, arbitrary: fc.constant(undefined) },
  // A small pool, so replays and reuse with another body (422) happen.
  { weight: 3, arbitrary: fc.constantFrom('fuzz-1', 'fuzz-2', 'fuzz-3') },
  { weight: 1, arbitrary: headerValue },
  { weight: 1, arbitrary: fc.string({ unit: asciiChar(0x21, 0x7e), minLength: 250, maxLength: 260 }) },
);

// --- the database's view: what a refused submit must not change ---

async function snapshot(): Promise<{ tasks: number; held: number; ledger: number; idempotencyKeys: number }> {
  const db = t.service.deps.db.kysely;
  const count = async (table: 'tasks' | 'ledger_entries' | 'idempotency_keys') =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const balance = await getBalance(t.service.deps.db, account.accountId);
  return { tasks: await count('tasks'), held: balance!.heldMicros, ledger: await count('ledger_entries'), idempotencyKeys: await count('idempotency_keys') };
}

describe.each(['veo-3-1', 'veo-3-1-extend'])('POST /api/v1/generateTask/%s under fuzz', (model) => {
  it('never answers 5xx, always answers the envelope, and a refusal creates no task and no hold', async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(bodyText, contentType, idempotencyKey, async (rawBody, type, idem) => {
        const headers: Record<string, string> = {};
        if (type !== undefined) headers['content-type'] = type;
        if (idem !== undefined) headers['idempotency-key'] = idem;
        const before = await snapshot();
        const res = await t.api('POST', `/api/v1/generateTask/${model}`, { key: account.key, rawBody, headers });
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);

        expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
        expect(res.body).toBeTypeOf('object');
        expect(res.body.code).toBe(res.status);
        expect(res.body.message).toBeTypeOf('string');
        expect(res.body).toHaveProperty('data');
        const after = await snapshot();
        if (res.status >= 400) {
          expect(res.body.data.error).toBeTypeOf('string');
          expect(after).toEqual(before);
        } else {
          // Accepted (or replayed): the task it names exists, and at most this one was added.
          expect(res.status).toBe(200);
          const task = await t.service.deps.db.kysely.selectFrom('tasks').select('id').where('id', '=', res.body.data.taskId).executeTakeFirst();
          expect(task).toBeDefined();
          expect(after.tasks - before.tasks).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: RUNS },
    );
    // The fuzz reached both sides of validation, not only the parser's refusals.
    expect(seen.get(400)).toBeGreaterThan(0);
    if (model === 'veo-3-1') expect(seen.get(200)).toBeGreaterThan(0);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../src/domain/json-depth.js';
import { startTestService, type TestService } from './support/service.js';

/**
 * Bodies that are valid JSON but hostile in shape: nesting that would drive recursion, and prompts
 * that look empty. Each must be a 400 in the envelope that names the field, never a 500.
 */
let t: TestService;
beforeAll(async () => {
  t = await startTestService({}, { workers: false });
});
afterAll(() => t?.close());

const GEN = '/api/v1/generateTask/veo-3-1';
const EXTEND = '/api/v1/generateTask/veo-3-1-extend';
const json = { 'content-type': 'application/json' };

/** `levels` nested objects around a number: `{"a":{"a":…1…}}`. */
const nestedObjects = (levels: number): string => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

async function taskCount(): Promise<number> {
  const row = await t.service.deps.db.kysely
    .selectFrom('tasks')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('body nesting', () => {
  it('refuses an unknown field nested 5,000 levels deep with an Idempotency-Key as a 400 naming the body', async () => {
    const before = await taskCount();
    const rawBody = `{"input":{"prompt":"a calm sea","mode":"fast"},"extra":${nestedObjects(5000)}}`;
    for (const path of [GEN, EXTEND]) {
      const res = await t.api('POST', path, { rawBody, headers: { ...json, 'idempotency-key': `deep-${path.length}` } });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        code: 400,
        message: 'Invalid request',
        data: { error: `the body is nested too deeply (more than ${MAX_JSON_DEPTH} levels)`, field: 'body' },
      });
    }
    expect(await taskCount()).toBe(before);
  });

  it('refuses the deepest arrays a 1 MiB body can hold, without an Idempotency-Key too', async () => {
    const levels = 500_000;
    const rawBody = `{"input":{"prompt":"a calm sea"},"x":${'['.repeat(levels)}${']'.repeat(levels)}}`;
    const res = await t.api('POST', GEN, { rawBody, headers: json });
    expect(res.status).toBe(400);
    expect(res.body.data.field).toBe('body');
  });

  it(`accepts ${MAX_JSON_DEPTH} levels and refuses ${MAX_JSON_DEPTH + 1}`, async () => {
    // The body object is level 1, `extra` holds the rest.
    const body = (levels: number) => `{"input":{"prompt":"a calm sea","mode":"fast"},"extra":${nestedObjects(levels - 1)}}`;
    const ok = await t.api('POST', GEN, { rawBody: body(MAX_JSON_DEPTH), headers: { ...json, 'idempotency-key': 'at-limit' } });
    expect(ok.status).toBe(200);
    // The same key and body replays: the fingerprint of an accepted body is stable.
    const again = await t.api('POST', GEN, { rawBody: body(MAX_JSON_DEPTH), headers: { ...json, 'idempotency-key': 'at-limit' } });
    expect(again.body.data.taskId).toBe(ok.body.data.taskId);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const over = await t.api('POST', GEN, { rawBody: body(MAX_JSON_DEPTH + 1), headers: json });
    expect(over.status).toBe(400);
    expect(over.body.data.field).toBe('body');
  });
});

describe('blank prompts', () => {
  it.each([
    ['zero-width spaces', '\u200B\u200B\u200B'],
    ['a byte order mark and joiners', '\uFEFF\u200D\u200C\u2060'],
    ['soft hyphens between spaces', ' \u00AD \u00AD '],
    ['a Hangul filler', '\u3164'],
    ['ideographic and no-break spaces', '\u3000\u00A0\u2007'],
    ['a next-line control (Unicode white space)', '\u0085'],
  ])('refuses a prompt of only %s as a 400 naming input.prompt', async (_name, prompt) => {
    const before = await taskCount();
    for (const [path, input] of [
      [GEN, { prompt, mode: 'fast' }],
      [EXTEND, { prompt, taskId: '0'.repeat(32) }],
    ] as const) {
      const res = await t.api('POST', path, { body: { input } });
      expect(res.status).toBe(400);
      expect(res.body.data).toEqual({ error: 'input.prompt must not be empty or only whitespace or invisible characters', field: 'input.prompt' });
    }
    expect(await taskCount()).toBe(before);
  });

  it('accepts a prompt with zero-width characters around words', async () => {
    const res = await t.api('POST', GEN, { body: { input: { prompt: '\u200Ba calm\u200D sea', mode: 'fast' } } });
    expect(res.status).toBe(200);
  });
});

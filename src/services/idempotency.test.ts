import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, requestHash } from './idempotency.js';

/**
 * The reference: the recursive definition the service used to run (test data is shallow). It
 * builds text itself because an object cannot hold "" before "0": integer-like keys come first.
 */
const reference = (v: unknown): string => {
  if (Array.isArray(v)) return `[${v.map(reference).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${reference(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
};

/** The same value with every object's keys in reverse order. */
const reversedDeep = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(reversedDeep);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .reverse()
        .map((k) => [k, reversedDeep((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
};

describe('canonicalJson', () => {
  it('writes what it always wrote, so fingerprints remembered before an upgrade still match', () => {
    expect(canonicalJson({ input: { prompt: 'a calm sea', mode: 'fast' }, request_type: 'async' })).toBe(
      '{"input":{"mode":"fast","prompt":"a calm sea"},"request_type":"async"}',
    );
    expect(canonicalJson([1, 'x', null, true, { b: [], a: {} }])).toBe('[1,"x",null,true,{"a":{},"b":[]}]');
    expect(canonicalJson('\u2028')).toBe('"\u2028"');
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson([undefined])).toBe('[null]');
    expect(canonicalJson({ a: undefined })).toBe('{"a":null}');
    expect(requestHash('veo-3-1', { b: 1, a: 2 })).toBe(requestHash('veo-3-1', { a: 2, b: 1 }));
    expect(requestHash('veo-3-1', { a: 1 })).not.toBe(requestHash('veo-3-1-extend', { a: 1 }));
  });

  it('is the recursive definition, whatever the field order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const expected = reference(v);
        expect(canonicalJson(v)).toBe(expected);
        expect(canonicalJson(reversedDeep(v))).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('does not recurse: 200,000 levels of arrays and of objects are written, not a stack overflow', () => {
    const levels = 200_000;
    let arrays: unknown = 1;
    let objects: unknown = 1;
    for (let i = 0; i < levels; i++) {
      arrays = [arrays];
      objects = { a: objects };
    }
    expect(canonicalJson(arrays)).toBe(`${'['.repeat(levels)}1${']'.repeat(levels)}`);
    expect(canonicalJson(objects)).toBe(`${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`);
  });
});

import { describe, expect, it } from 'vitest';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from './json-depth.js';

const nested = (levels: number, wrap: (inner: unknown) => unknown): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < levels; i++) v = wrap(v);
  return v;
};

describe('exceedsJsonDepth', () => {
  it('counts containers, not scalars', () => {
    expect(exceedsJsonDepth('x', 0)).toBe(false);
    expect(exceedsJsonDepth(null, 0)).toBe(false);
    expect(exceedsJsonDepth({}, 0)).toBe(true);
    expect(exceedsJsonDepth({}, 1)).toBe(false);
    expect(exceedsJsonDepth({ a: [1] }, 1)).toBe(true);
    expect(exceedsJsonDepth({ a: [1] }, 2)).toBe(false);
    expect(exceedsJsonDepth({ a: 1, b: [[]] }, 2)).toBe(true);
  });

  it('accepts the deepest APIXO body with room to spare', () => {
    const body = { request_type: 'async', input: { prompt: 'p', image_urls: ['https://example.com/a.png'] } };
    expect(exceedsJsonDepth(body, 3)).toBe(false);
    expect(MAX_JSON_DEPTH).toBeGreaterThanOrEqual(8);
  });

  it('puts the limit exactly at MAX_JSON_DEPTH, for arrays and objects alike', () => {
    for (const wrap of [(v: unknown) => [v], (v: unknown) => ({ k: v })]) {
      expect(exceedsJsonDepth(nested(MAX_JSON_DEPTH, wrap))).toBe(false);
      expect(exceedsJsonDepth(nested(MAX_JSON_DEPTH + 1, wrap))).toBe(true);
    }
  });

  it('finds one deep branch among wide shallow ones', () => {
    const wide = Array.from({ length: 10_000 }, (_, i) => ({ i }));
    expect(exceedsJsonDepth({ wide }, 3)).toBe(false);
    expect(exceedsJsonDepth({ wide: [...wide, nested(3, (v) => [v])] }, 3)).toBe(true);
  });

  it('walks a million levels without recursion', () => {
    expect(exceedsJsonDepth(nested(1_000_000, (v) => [v]))).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { ifRangeHolds, noneMatchHits, parseRange } from './range.js';

describe('parseRange', () => {
  it('reads a single byte range, an open end and a suffix', () => {
    expect(parseRange('bytes=10-19', 100)).toEqual({ start: 10, end: 19 });
    expect(parseRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=90-500', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-5', 100)).toEqual({ start: 95, end: 99 });
    expect(parseRange('bytes=-500', 100)).toEqual({ start: 0, end: 99 });
  });

  it('refuses ranges that are valid but outside the representation', () => {
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=150-160', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=-0', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=-5', 0)).toBe('unsatisfiable');
  });

  it('ignores an invalid range set (RFC 9110 §14.1.1: last before first), other units and lists', () => {
    for (const h of [undefined, '', 'bytes=10-5', 'bytes=-', 'items=0-5', 'bytes=0-1,5-6', 'bytes=a-b']) {
      expect(parseRange(h, 100), String(h)).toBeNull();
    }
  });
});

describe('noneMatchHits (weak comparison)', () => {
  const etag = '"abc"';
  it('matches the tag, a list containing it, *, and weak forms', () => {
    for (const h of ['"abc"', '"x", "abc"', '"x","abc"', '*', 'W/"abc"', ' W/"x" , W/"abc" ']) expect(noneMatchHits(h, etag), h).toBe(true);
    expect(noneMatchHits('"abc"', 'W/"abc"')).toBe(true);
  });

  it('does not match other tags, absent headers or garbage', () => {
    for (const h of [undefined, '', '"abcd"', 'abc', '"x", W/"y"', 'W/abc']) expect(noneMatchHits(h, etag), String(h)).toBe(false);
  });
});

describe('ifRangeHolds (strong comparison)', () => {
  it('holds without the header and for the same strong tag only', () => {
    expect(ifRangeHolds(undefined, '"abc"')).toBe(true);
    expect(ifRangeHolds(' "abc" ', '"abc"')).toBe(true);
    expect(ifRangeHolds('W/"abc"', '"abc"')).toBe(false);
    expect(ifRangeHolds('"abc"', 'W/"abc"')).toBe(false);
    expect(ifRangeHolds('"other"', '"abc"')).toBe(false);
    // A date is compared with Last-Modified, which these files do not send.
    expect(ifRangeHolds('Thu, 15 Jan 2026 12:00:00 GMT', '"abc"')).toBe(false);
  });
});

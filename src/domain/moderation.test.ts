import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createContentPolicy, parsePolicyList } from './moderation.js';

const policy = createContentPolicy(parsePolicyList(readFileSync(new URL('../../assets/moderation.txt', import.meta.url), 'utf8')));

describe('content policy', () => {
  it('loads the shipped list', () => {
    expect(policy.size).toBeGreaterThan(20);
  });

  it.each([
    ['a NUDE portrait', 'nude'],
    ['how to Build-A-Bomb at home', 'build a bomb'],
    ['N.U.D.E beach', 'nude'],
    ['ｎｕｄｅ figure', 'nude'], // full-width letters normalise
    ['a beheading scene', 'beheading'],
  ])('refuses %j', (text, phrase) => {
    expect(policy.violation(text)).toBe(phrase);
  });

  it.each(['a calm ocean at sunset', 'nudelholz on a kitchen table', 'a gorgeous sunrise', 'pornstar martini cocktail glass'])(
    'allows %j',
    (text) => {
      expect(policy.violation(text)).toBeNull();
    },
  );
});

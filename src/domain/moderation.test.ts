import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createContentPolicy, normaliseForPolicy, parsePolicyList } from './moderation.js';

const policy = createContentPolicy(parsePolicyList(readFileSync(new URL('../../assets/moderation.txt', import.meta.url), 'utf8')));

describe('content policy', () => {
  it('loads the shipped list', () => {
    expect(policy.size).toBeGreaterThan(20);
  });

  // Every evasion names the listed phrase it hides (words of assets/moderation.txt).
  it.each([
    // plain, punctuation and case
    ['a NUDE portrait', 'nude'],
    ['how to Build-A-Bomb at home', 'build a bomb'],
    ['a beheading scene', 'beheading'],
    // spaced-out or dotted letters join into the word they spell, also next to a one-letter word
    ['N.U.D.E beach', 'nude'],
    ['a n u d e figure', 'nude'],
    ['a N.U.D.E figure', 'nude'],
    ['a n-u-d-e figure', 'nude'],
    ['a n_u_d_e figure', 'nude'],
    ['a n / u / d / e figure', 'nude'],
    ['n . a . k . e . d', 'naked'],
    ['G O R E everywhere', 'gore'],
    ['how to b u i l d a b o m b', 'build a bomb'],
    ['how to build a b.o.m.b', 'build a bomb'],
    ['s e l f harm tips', 'self harm'],
    // a phrase written as one word
    ['#selfharm', 'self harm'],
    ['buildabomb tutorial', 'build a bomb'],
    // invisible characters inside the word
    ['a nu\u200Bde figure', 'nude'],
    ['a nu\u00ADde figure', 'nude'],
    ['a n\u200Du\u200Cd\u2060e figure', 'nude'],
    ['\uFEFFnude', 'nude'],
    ['go\u034Fre', 'gore'],
    ['a n\u200B u\u200B d\u200B e figure', 'nude'],
    // Cyrillic, Greek and Armenian look-alikes
    ['a nud\u0435 figure', 'nude'],
    ['\u0440\u043Ern clip', 'porn'],
    ['g\u03BFr\u0435', 'gore'],
    ['\u039DUDE', 'nude'],
    ['\u0578\u057Dde', 'nude'],
    ['N\u0410K\u0415D', 'naked'],
    // compatibility forms NFKC folds: full-width, mathematical, circled
    ['ｎｕｄｅ figure', 'nude'],
    ['ＮＵＤＥ', 'nude'],
    ['\u{1D427}\u{1D42E}\u{1D41D}\u{1D41E}', 'nude'],
    ['ⓝⓤⓓⓔ', 'nude'],
    ['ｎ ｕ ｄ ｅ', 'nude'],
    // small capitals and decorating combining marks
    ['\u0274\u1D1C\u1D05\u1D07', 'nude'],
    ['n\u0332u\u0332d\u0332e\u0332', 'nude'],
    ['g\u0336o\u0336r\u0336e\u0336', 'gore'],
    // all at once
    ['a \u039D.\u057D.d\u200B.\u0435 figure', 'nude'],
  ])('refuses %j', (text, phrase) => {
    expect(policy.violation(text)).toBe(phrase);
  });

  it.each([
    'a calm ocean at sunset',
    'a nice day at the beach',
    'a gorgeous sunrise',
    'nudelholz on a kitchen table',
    'pornstar martini cocktail glass',
    'a bomber jacket, build a bomber model',
    'self harmony in a zen garden',
    'the gory details of a snuff box',
    'a b c d on a blackboard',
    'vitamin C and plan B',
    'U.S.A. flag at dawn',
    'a p p l e pie, spelled out',
    'naïve art of a nudist-free park',
    'Москва ночью, огни города',
    'Καλημέρα από την Αθήνα',
    'a family 👨‍👩‍👧 at the beach ❤️',
    'Istanbul İstiklal street',
    'ⓐ ⓑ ⓒ stickers',
  ])('allows %j', (text) => {
    expect(policy.violation(text)).toBeNull();
  });

  it('a custom list is normalised like the text', () => {
    const custom = createContentPolicy(parsePolicyList('# comment\n\nＳｐｏｉｌｅｒ Alert\nd\u200Bragon\n'));
    expect(custom.size).toBe(2);
    expect(custom.violation('a s.p.o.i.l.e.r alert!')).toBe('spoiler alert');
    expect(custom.violation('a DRAGON')).toBe('dragon');
    expect(custom.violation('a dragonfly')).toBeNull();
  });
});

describe('normaliseForPolicy', () => {
  it('is idempotent and leaves single-spaced lower-case words', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (text) => {
        const once = normaliseForPolicy(text);
        expect(normaliseForPolicy(once)).toBe(once);
        expect(once).toMatch(/^ (?:[\p{L}\p{M}\p{N}]+ )*$/u);
        expect(once).toBe(once.toLowerCase());
      }),
      { numRuns: 300 },
    );
  });
});

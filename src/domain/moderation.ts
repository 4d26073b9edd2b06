import { foldLookAlikes, stripInvisible } from './unicode-text.js';

/**
 * A local content policy: a list of words and phrases that a prompt must not contain. Text and
 * list are normalised the same way (see normaliseForPolicy), then matched on whole words, so
 * "nudelholz" does not match "nude" while the usual disguises of a listed word do.
 */
export interface ContentPolicy {
  /** The first listed phrase found in `text`, or null. */
  violation(text: string): string | null;
  readonly size: number;
}

/**
 * Combining marks left on a Latin, Greek or Cyrillic letter once NFKC has composed what it can
 * (é stays é): underlines, strike-throughs and "Zalgo" stacks decorate a word without changing
 * it. Marks in scripts that need them (Devanagari, Hebrew …) are kept.
 */
const DECORATION = /([\p{sc=Latin}\p{sc=Greek}\p{sc=Cyrillic}])[\p{Mn}\p{Me}]+/gu;

/** Anything that is not part of a word: punctuation, symbols, spaces, emoji. */
const SEPARATORS = /[^\p{L}\p{M}\p{N}]+/gu;

/**
 * The text as the policy sees it: NFKC (full-width, mathematical and circled letters become
 * plain ones), invisible characters removed (so "nu\u200Bde" is one word again), look-alike
 * letters folded to Latin, lower-cased, decorating marks dropped, and every run of separators
 * one space, with a space at each end.
 */
export function normaliseForPolicy(text: string): string {
  // Folded again after lower-casing: a capital with no look-alike of its own (Һ) can have a
  // small letter that has one (һ).
  const lower = foldLookAlikes(foldLookAlikes(stripInvisible(text.normalize('NFKC'))).toLowerCase());
  const words = lower.replace(DECORATION, '$1').replace(SEPARATORS, ' ').trim();
  return words === '' ? ' ' : ` ${words} `;
}

/** Parses a list file: one phrase per line, `#` comments and blank lines ignored. */
export function parsePolicyList(content: string): string[] {
  return content
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => normaliseForPolicy(l).trim())
    .filter((l) => l !== '');
}

interface Phrase {
  /** What a violation is reported as: the normalised phrase. */
  name: string;
  /** Word sequences that count as the phrase: its words, and for a phrase of several words also
   * the words run together ("selfharm", "buildabomb"), as hashtags write them. */
  forms: string[][];
}

export function createContentPolicy(phrases: string[]): ContentPolicy {
  const compiled: Phrase[] = [];
  for (const p of phrases) {
    // Normalising is idempotent, so a list from parsePolicyList and raw phrases both work.
    const words = normaliseForPolicy(p)
      .trim()
      .split(' ')
      .filter((w) => w !== '');
    if (words.length === 0) continue;
    compiled.push({ name: words.join(' '), forms: words.length > 1 ? [words, [words.join('')]] : [words] });
  }
  return {
    size: compiled.length,
    violation(text) {
      const tokens = normaliseForPolicy(text).trim().split(' ');
      for (const p of compiled) {
        for (const form of p.forms) {
          for (let i = 0; i < tokens.length; i++) if (matchesAt(tokens, i, form)) return p.name;
        }
      }
      return null;
    },
  };
}

/**
 * Whether the words of a phrase start at `tokens[start]`. A word matches a whole token, or as
 * many one-character tokens as it has characters, spelling it: "n u d e" and "N.U.D.E" are
 * "nude", and a one-letter word before them ("a n u d e") stays a word of its own. A token of
 * two or more characters never merges with its neighbours, so "a nice day" is not "aniceday".
 */
function matchesAt(tokens: string[], start: number, words: string[]): boolean {
  let pos = start;
  for (const word of words) {
    if (tokens[pos] === word) {
      pos++;
      continue;
    }
    for (const ch of word) {
      if (tokens[pos] !== ch) return false;
      pos++;
    }
  }
  return true;
}

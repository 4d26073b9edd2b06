/**
 * A local content policy: a list of words and phrases that a prompt must not contain. Matching is
 * on whole words after NFKC normalisation and lower-casing, with punctuation treated as space, so
 * "N.U.D.E" does not slip through as one token but "nudelholz" does not match "nude".
 */
export interface ContentPolicy {
  /** The first listed phrase found in `text`, or null. */
  violation(text: string): string | null;
  readonly size: number;
}

export function normaliseForPolicy(text: string): string {
  return ` ${text.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim()} `;
}

/** Parses a list file: one phrase per line, `#` comments and blank lines ignored. */
export function parsePolicyList(content: string): string[] {
  return content
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => normaliseForPolicy(l))
    .filter((l) => l.trim() !== '');
}

export function createContentPolicy(phrases: string[]): ContentPolicy {
  return {
    size: phrases.length,
    violation(text) {
      const t = normaliseForPolicy(text);
      // Collapsing "n u d e" style spacing catches letter-by-letter evasion of single words.
      const squeezed = ` ${t.replace(/\b(\p{L}) (?=\p{L}\b)/gu, '$1')} `;
      for (const p of phrases) if (t.includes(p) || squeezed.includes(p)) return p.trim();
      return null;
    },
  };
}

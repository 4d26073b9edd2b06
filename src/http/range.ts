/**
 * Range and conditional requests on stored files (RFC 9110 §13, §14). Pure, so every rule is
 * tested without a server.
 */

/**
 * Parses a single-range `Range: bytes=...` header. Null means "serve the whole file": no header,
 * another unit, several ranges, or an invalid range set (last before first), which §14.2 lets a
 * server ignore. 'unsatisfiable' is a valid range outside the file (416).
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return null;
  const [, a, b] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  if (b !== '' && Number(b) < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end: b === '' ? size - 1 : Math.min(Number(b), size - 1) };
}

/** `W/"x"` → `"x"`: the opaque tag that weak comparison compares. */
const opaque = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);

/** The entity tags of an `If-None-Match` list (`"a", W/"b"`); `*` is kept as is. */
function entityTags(header: string): string[] {
  return header.match(/\*|(?:W\/)?"[^"]*"/g) ?? [];
}

/**
 * Whether `If-None-Match` matches the current `etag`, so a GET or HEAD answers 304 (§13.1.2):
 * `*`, or any listed tag equal to it by weak comparison (`W/"x"` matches `"x"`).
 */
export function noneMatchHits(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const current = opaque(etag);
  return entityTags(header).some((tag) => tag === '*' || opaque(tag) === current);
}

/**
 * Whether `If-Range` lets the Range apply (§13.1.5): true without the header; else only an
 * entity tag strongly equal to the current one. A date would be compared with Last-Modified,
 * which these files do not send, so it never holds (the whole file is served).
 */
export function ifRangeHolds(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return true;
  if (typeof header !== 'string') return false; // repeated: not one validator
  const tag = header.trim();
  return !tag.startsWith('W/') && !etag.startsWith('W/') && tag === etag;
}

/**
 * Unicode clean-up shared by validation and the content policy: characters that draw nothing, and
 * letters of other scripts drawn exactly like Latin ones, are how text looks like one thing to a
 * reader and another to a string comparison.
 */

/**
 * Format characters (category Cf: zero-width space, joiners, soft hyphen, BOM, bidi controls,
 * word joiner …) and the other default-ignorable code points (Hangul fillers, variation
 * selectors, the combining grapheme joiner): a renderer draws none of them.
 */
const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}]/gu;

export function stripInvisible(text: string): string {
  return text.replace(INVISIBLE, '');
}

/** Only white space and invisible characters once normalised: what a reader sees as empty. */
export function isBlankText(text: string): boolean {
  return /^\p{White_Space}*$/u.test(stripInvisible(text.normalize('NFKC')));
}

/**
 * Letters drawn like a Latin letter in common fonts, after Unicode's confusables.txt (only
 * single-letter look-alikes; NFKC already folds full-width, mathematical and circled letters).
 * Case matters: Greek capital Ν looks like N, its small ν like v.
 */
const LOOK_ALIKES: ReadonlyArray<readonly [string, string]> = [
  // Cyrillic capitals А В С Е Н І Ј К М О Р Ѕ Т Х У Ү Ԁ Ԛ Ԝ
  ['\u0410', 'A'],
  ['\u0412', 'B'],
  ['\u0421', 'C'],
  ['\u0415', 'E'],
  ['\u041D', 'H'],
  ['\u0406', 'I'],
  ['\u0408', 'J'],
  ['\u041A', 'K'],
  ['\u041C', 'M'],
  ['\u041E', 'O'],
  ['\u0420', 'P'],
  ['\u0405', 'S'],
  ['\u0422', 'T'],
  ['\u0425', 'X'],
  ['\u0423', 'Y'],
  ['\u04AE', 'Y'],
  ['\u0500', 'D'],
  ['\u051A', 'Q'],
  ['\u051C', 'W'],
  // Cyrillic small а с ԁ е һ і ј ӏ о р ԛ ѕ ԝ х у ү
  ['\u0430', 'a'],
  ['\u0441', 'c'],
  ['\u0501', 'd'],
  ['\u0435', 'e'],
  ['\u04BB', 'h'],
  ['\u0456', 'i'],
  ['\u0458', 'j'],
  ['\u04CF', 'l'],
  ['\u043E', 'o'],
  ['\u0440', 'p'],
  ['\u051B', 'q'],
  ['\u0455', 's'],
  ['\u051D', 'w'],
  ['\u0445', 'x'],
  ['\u0443', 'y'],
  ['\u04AF', 'y'],
  // Greek capitals Α Β Ε Ζ Η Ι Κ Μ Ν Ο Ρ Τ Υ Χ
  ['\u0391', 'A'],
  ['\u0392', 'B'],
  ['\u0395', 'E'],
  ['\u0396', 'Z'],
  ['\u0397', 'H'],
  ['\u0399', 'I'],
  ['\u039A', 'K'],
  ['\u039C', 'M'],
  ['\u039D', 'N'],
  ['\u039F', 'O'],
  ['\u03A1', 'P'],
  ['\u03A4', 'T'],
  ['\u03A5', 'Y'],
  ['\u03A7', 'X'],
  // Greek small α ι κ ν ο ρ υ χ, lunate sigma ϲ, yot ϳ
  ['\u03B1', 'a'],
  ['\u03B9', 'i'],
  ['\u03BA', 'k'],
  ['\u03BD', 'v'],
  ['\u03BF', 'o'],
  ['\u03C1', 'p'],
  ['\u03C5', 'u'],
  ['\u03C7', 'x'],
  ['\u03F2', 'c'],
  ['\u03F3', 'j'],
  // Armenian small հ ո ս օ
  ['\u0570', 'h'],
  ['\u0578', 'n'],
  ['\u057D', 'u'],
  ['\u0585', 'o'],
  // Latin letters NFKC leaves alone: dotless ı ȷ, script ɑ ɡ ɩ, and the small capitals of
  // "fancy text" generators ᴀ ʙ ᴄ ᴅ ᴇ ꜰ ɢ ʜ ɪ ᴊ ᴋ ʟ ᴍ ɴ ᴏ ᴘ ʀ ꜱ ᴛ ᴜ ᴠ ᴡ ʏ ᴢ
  ['\u0131', 'i'],
  ['\u0237', 'j'],
  ['\u0251', 'a'],
  ['\u0261', 'g'],
  ['\u0269', 'i'],
  ['\u1D00', 'a'],
  ['\u0299', 'b'],
  ['\u1D04', 'c'],
  ['\u1D05', 'd'],
  ['\u1D07', 'e'],
  ['\uA730', 'f'],
  ['\u0262', 'g'],
  ['\u029C', 'h'],
  ['\u026A', 'i'],
  ['\u1D0A', 'j'],
  ['\u1D0B', 'k'],
  ['\u029F', 'l'],
  ['\u1D0D', 'm'],
  ['\u0274', 'n'],
  ['\u1D0F', 'o'],
  ['\u1D18', 'p'],
  ['\u0280', 'r'],
  ['\uA731', 's'],
  ['\u1D1B', 't'],
  ['\u1D1C', 'u'],
  ['\u1D20', 'v'],
  ['\u1D21', 'w'],
  ['\u028F', 'y'],
  ['\u1D22', 'z'],
];
const LOOK_ALIKE = new Map(LOOK_ALIKES);
const FOLDABLE = new RegExp(`[${LOOK_ALIKES.map(([from]) => from).join('')}]`, 'gu');

/** Replaces each look-alike letter with the Latin letter it is drawn like. */
export function foldLookAlikes(text: string): string {
  return text.replace(FOLDABLE, (c) => LOOK_ALIKE.get(c)!);
}

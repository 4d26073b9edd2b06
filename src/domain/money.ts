/** Money is integer micro-dollars everywhere inside; dollars appear only at the edges. */
const MICROS_PER_USD = 1_000_000;

/** Micro-dollars to a USD number for JSON (exact to 6 decimals, which a double holds). */
export function microsToUsd(micros: number): number {
  return Math.round(micros) / MICROS_PER_USD;
}

/** A USD amount given as text (CLI, config) to micro-dollars; null when it is not a plain decimal. */
export function parseUsd(raw: string): number | null {
  if (!/^\d{1,9}(\.\d{1,6})?$/.test(raw.trim())) return null;
  const [whole, frac = ''] = raw.trim().split('.');
  return Number(whole) * MICROS_PER_USD + Number(frac.padEnd(6, '0'));
}

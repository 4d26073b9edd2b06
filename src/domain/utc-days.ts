/**
 * Calendar days in UTC as whole numbers (days since 1970-01-01), the unit of usage reports and
 * of the admin list's date range. A day number times DAY_MS is the day's first millisecond.
 */
export const DAY_MS = 86_400_000;

/** The day of a Unix ms time. */
export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

/** `2025-03-01` for a day number. */
export function dayString(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/**
 * The day a `YYYY-MM-DD` text names, or null: exactly that shape (no time, no zone; the day is a
 * UTC day) and a date the calendar has (`2025-02-30` is refused, not rolled over to March).
 */
export function parseDay(raw: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(raw);
  if (!m) return null;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  // Date.UTC rolls impossible dates over; the round trip shows whether it did.
  return dayString(ms / DAY_MS) === raw ? ms / DAY_MS : null;
}

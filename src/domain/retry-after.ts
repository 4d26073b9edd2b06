/**
 * `Retry-After` (RFC 9110 §10.2.3), the one reader for every place that honours it: upstream
 * engines, webhook retries and the client. Pure.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** `Sun, 06 Nov 1994 08:49:37 GMT` (IMF-fixdate, what servers send). */
const IMF_FIXDATE = /^[a-z]{3}, (\d{2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/i;
/** `Sunday, 06-Nov-94 08:49:37 GMT` (obsolete RFC 850 form). */
const RFC_850 = /^[a-z]{6,9}, (\d{2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/i;
/** `Sun Nov  6 08:49:37 1994` (obsolete asctime form, in UTC). */
const ASCTIME = /^[a-z]{3} ([a-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i;

/**
 * The delay `Retry-After` asks for, in ms from `now`: delay-seconds (digits only: "2024" is 2024
 * seconds, never a year) or one of the three HTTP-date forms, which recipients must all accept.
 * A date in the past is 0. Null when absent or not one of these (negative, fractional, any other
 * date text: `Date.parse` would read "foo 2024" as a year). Repeated headers: the first counts.
 */
export function retryAfterMs(value: string | readonly string[] | null | undefined, now: number = Date.now()): number | null {
  const v = (typeof value === 'string' ? value : value?.[0])?.trim();
  if (!v) return null;
  if (/^\d+$/.test(v)) {
    const ms = Number(v) * 1000;
    return Number.isFinite(ms) ? ms : null;
  }
  const at = httpDate(v, now);
  return at === null ? null : Math.max(0, at - now);
}

/** An HTTP-date as epoch ms, or null. */
function httpDate(v: string, now: number): number | null {
  let m = IMF_FIXDATE.exec(v);
  if (m) return utc(+m[3]!, m[2]!, +m[1]!, +m[4]!, +m[5]!, +m[6]!);
  m = RFC_850.exec(v);
  if (m) {
    // §5.6.7: a two-digit year that looks more than 50 years ahead is the last century's.
    const thisYear = new Date(now).getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + +m[3]!;
    if (year > thisYear + 50) year -= 100;
    return utc(year, m[2]!, +m[1]!, +m[4]!, +m[5]!, +m[6]!);
  }
  m = ASCTIME.exec(v);
  if (m) return utc(+m[6]!, m[1]!, +m[2]!.trim(), +m[3]!, +m[4]!, +m[5]!);
  return null;
}

/** Epoch ms of a calendar UTC time, or null when a field is out of range (31 Feb, 25:00). */
function utc(year: number, monthName: string, day: number, h: number, min: number, s: number): number | null {
  const month = MONTHS.indexOf(monthName.toLowerCase());
  if (month < 0 || h > 23 || min > 59 || s > 60) return null;
  const t = Date.UTC(year, month, day, h, min, s);
  // Date.UTC rolls 31 Feb over into March: a day the month does not have is not a date.
  return new Date(t).getUTCDate() === day && day >= 1 ? t : null;
}

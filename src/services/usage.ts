import type { Db } from '../db/connect.js';
import { accountNames, type UsageGroup, usageGroups } from '../db/task-list-repo.js';
import { microsToUsd } from '../domain/money.js';
import { DAY_MS, dayOf, dayString, parseDay } from '../domain/utc-days.js';
import type { Invalid } from './task-list.js';

/** A report covers at most this many days (a leap year), so one request cannot ask for decades. */
const MAX_USAGE_DAYS = 366;
/** Without `from`, a report covers this many days up to `to` (default today). */
const DEFAULT_USAGE_DAYS = 30;

/** Days `from`..`to`, both included (UTC day numbers). */
export interface DayRange {
  fromDay: number;
  toDay: number;
}

/**
 * The range of `from` and `to` (`YYYY-MM-DD`, UTC, inclusive). Either may be left out: `to`
 * defaults to today, `from` to 29 days before `to` (30 days in all).
 */
export function parseDayRange(
  from: string | undefined,
  to: string | undefined,
  now: number,
  maxDays = MAX_USAGE_DAYS,
): { ok: true; range: DayRange } | Invalid {
  const toDay = to === undefined ? dayOf(now) : parseDay(to);
  if (toDay === null) return { ok: false, status: 400, field: 'to', error: `to must be a date YYYY-MM-DD (UTC), such as ${dayString(dayOf(now))}` };
  const fromDay = from === undefined ? toDay - (DEFAULT_USAGE_DAYS - 1) : parseDay(from);
  if (fromDay === null) return { ok: false, status: 400, field: 'from', error: `from must be a date YYYY-MM-DD (UTC), such as ${dayString(dayOf(now) - 29)}` };
  if (fromDay > toDay) return { ok: false, status: 400, field: 'from', error: `from ${dayString(fromDay)} is after to ${dayString(toDay)}` };
  if (toDay - fromDay + 1 > maxDays) {
    const error = `the range from ${dayString(fromDay)} to ${dayString(toDay)} spans ${toDay - fromDay + 1} days; at most ${maxDays} at once`;
    return { ok: false, status: 400, field: 'from', error };
  }
  return { ok: true, range: { fromDay, toDay } };
}

/** The figures of one day (or of a range): money in USD, converted once from summed micro-dollars. */
export interface UsageFigures {
  tasks: number;
  succeeded: number;
  failed: number;
  videoSeconds: number;
  spentUsd: number;
}

interface Sums {
  tasks: number;
  succeeded: number;
  failed: number;
  videoMs: number;
  spentMicros: number;
}

const zero = (): Sums => ({ tasks: 0, succeeded: 0, failed: 0, videoMs: 0, spentMicros: 0 });

function add(into: Sums, g: Sums): void {
  into.tasks += g.tasks;
  into.succeeded += g.succeeded;
  into.failed += g.failed;
  into.videoMs += g.videoMs;
  into.spentMicros += g.spentMicros;
}

/** Integers summed, then converted once: no float drift however many tasks a day has. */
function figures(s: Sums): UsageFigures {
  return { tasks: s.tasks, succeeded: s.succeeded, failed: s.failed, videoSeconds: s.videoMs / 1000, spentUsd: microsToUsd(s.spentMicros) };
}

const bounds = (r: DayRange) => ({ fromMs: r.fromDay * DAY_MS, toMs: (r.toDay + 1) * DAY_MS });

/**
 * An account's usage per day, every day of the range listed (zeros included, so charts need no
 * gaps filled), and the totals. A task counts as submitted on the day it was created and as
 * succeeded or failed on the day it ended; a failed task costs nothing (its hold was released).
 */
export async function accountUsage(
  db: Db,
  accountId: string,
  range: DayRange,
): Promise<{ from: string; to: string; days: Array<{ date: string } & UsageFigures>; totals: UsageFigures }> {
  const groups = await usageGroups(db, { ...bounds(range), accountId });
  const perDay = new Map<number, Sums>();
  const total = zero();
  for (const g of groups) {
    let day = perDay.get(g.day);
    if (!day) {
      day = zero();
      perDay.set(g.day, day);
    }
    add(day, g);
    add(total, g);
  }
  const days: Array<{ date: string } & UsageFigures> = [];
  for (let d = range.fromDay; d <= range.toDay; d++) days.push({ date: dayString(d), ...figures(perDay.get(d) ?? zero()) });
  return { from: dayString(range.fromDay), to: dayString(range.toDay), days, totals: figures(total) };
}

/** One row of the operator's report: a day, an account, a model and an engine. */
export interface UsageRow extends UsageFigures {
  date: string;
  accountId: string;
  accountName: string | null;
  model: string;
  engine: string | null;
}

/**
 * Usage per day × account × model × engine, of one account or of all; only groups with
 * something in them. `engine` is null for tasks no engine has served yet (still pending).
 */
export async function operatorUsage(
  db: Db,
  range: DayRange,
  accountId?: string,
): Promise<{ from: string; to: string; rows: UsageRow[]; totals: UsageFigures }> {
  const groups: UsageGroup[] = await usageGroups(db, { ...bounds(range), ...(accountId === undefined ? {} : { accountId }) });
  const total = zero();
  for (const g of groups) add(total, g);
  const names = await accountNames(db, [...new Set(groups.map((g) => g.accountId))]);
  return {
    from: dayString(range.fromDay),
    to: dayString(range.toDay),
    rows: groups
      .map((g) => ({
        date: dayString(g.day),
        accountId: g.accountId,
        accountName: names.get(g.accountId) ?? null,
        model: g.model,
        engine: g.engine,
        ...figures(g),
      }))
      // Read by people: by day, then account name, model and engine (none first).
      .sort(
        (x, y) =>
          x.date.localeCompare(y.date) ||
          (x.accountName ?? x.accountId).localeCompare(y.accountName ?? y.accountId) ||
          x.model.localeCompare(y.model) ||
          (x.engine ?? '').localeCompare(y.engine ?? ''),
      ),
    totals: figures(total),
  };
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUsage } from '../src/cli/tasks.js';
import { getBalance } from '../src/db/ledger-repo.js';
import { DAY_MS, dayString } from '../src/domain/utc-days.js';
import { shiftClock, startTestService, type TestService } from './support/service.js';
import { finish, submit } from './support/task-rows.js';

/**
 * GET /api/v1/usage (docs/api.md, usage): tasks run the way workers run them (claim, settle) at
 * a moved clock, across a UTC midnight. Prices of $0.10 and $0.20 make float drift visible
 * (0.1 + 0.2 !== 0.3): money must be summed in micro-dollars and converted once.
 */
let t: TestService;
let clock: { offset: number };
/** Midnight UTC starting day D+1, ten days ahead (task ids stay time-ordered when the clock only moves on). */
let midnight: number;
const at = (ms: number) => {
  clock.offset = ms - Date.now();
};

let accountId: string;
let key: string;

beforeAll(async () => {
  t = await startTestService({ LONGSHOT_PRICE_VEO_3_1_FAST_USD: '0.10', LONGSHOT_PRICE_VEO_3_1_EXTEND_FAST_USD: '0.20' }, { workers: false });
  clock = shiftClock(t);
  midnight = (Math.floor(Date.now() / DAY_MS) + 11) * DAY_MS;
  ({ accountId, key } = await t.newAccount('usage', 100));

  // Day D, 23:59: a fast generation ($0.10, 8 s) and its extension ($0.20, +7 s) end that day:
  // $0.30 spent, which 0.1 + 0.2 in floating point is not.
  at(midnight - 60_000);
  const first = await submit(t, key, 'veo-3-1', { prompt: 'one', mode: 'fast' });
  at(midnight - 55_000);
  await finish(t, first, { durationMs: 8000 });
  at(midnight - 50_000);
  const ext = await submit(t, key, 'veo-3-1-extend', { taskId: first, prompt: 'two' });
  at(midnight - 45_000);
  await finish(t, ext, { durationMs: 15_000 });
  // Submitted on D, ends after midnight: counted as submitted on D and succeeded on D+1 ($1.50).
  at(midnight - 40_000);
  const quality = await submit(t, key, 'veo-3-1', { prompt: 'three', mode: 'quality' });
  at(midnight + 5_000);
  await finish(t, quality, { durationMs: 8040, engine: 'gemini' });
  // D+1: a failure costs nothing; an extension counts the 7 s it added, not its whole video.
  at(midnight + 60_000);
  const failing = await submit(t, key, 'veo-3-1', { prompt: 'four', mode: 'fast' });
  await finish(t, failing, { failCode: 'CONTENT_VIOLATION' });
  at(midnight + 120_000);
  const ext2 = await submit(t, key, 'veo-3-1-extend', { taskId: ext, prompt: 'five' });
  await finish(t, ext2, { durationMs: 22_000 });
  // Still pending at the end: submitted, not ended, held but not spent.
  at(midnight + 180_000);
  await submit(t, key, 'veo-3-1', { prompt: 'six', mode: 'fast' });
});
afterAll(() => t?.close());

const D = () => dayString(midnight / DAY_MS - 1);
const D1 = () => dayString(midnight / DAY_MS);

describe('GET /api/v1/usage', () => {
  it('sums each day exactly, across midnight, and the totals', async () => {
    const res = await t.api('GET', `/api/v1/usage?from=${D()}&to=${D1()}`, { key });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ code: 200, message: 'success' });
    expect(res.body.data).toEqual({
      from: D(),
      to: D1(),
      days: [
        // $0.10 + $0.20 summed in micro-dollars: 0.3, not 0.30000000000000004.
        { date: D(), tasks: 3, succeeded: 2, failed: 0, videoSeconds: 15, spentUsd: 0.3 },
        // $1.50 + $0.20; the failure adds nothing, the pending task nothing yet.
        { date: D1(), tasks: 3, succeeded: 2, failed: 1, videoSeconds: 15.04, spentUsd: 1.7 },
      ],
      totals: { tasks: 6, succeeded: 4, failed: 1, videoSeconds: 30.04, spentUsd: 2 },
    });
    // Spend is the ledger's captures: it adds up with the balance.
    expect((await getBalance(t.service.deps.db, accountId))!.capturedMicros).toBe(2_000_000);
  });

  it('lists every day of the range, zeros included; defaults to the 30 days up to today', async () => {
    const wide = await t.api('GET', `/api/v1/usage?from=${dayString(midnight / DAY_MS - 3)}&to=${dayString(midnight / DAY_MS + 1)}`, { key });
    expect(wide.body.data.days.map((d: any) => d.tasks)).toEqual([0, 0, 3, 3, 0]);
    at(midnight + 3_600_000);
    const dflt = await t.api('GET', '/api/v1/usage', { key });
    expect(dflt.body.data.days).toHaveLength(30);
    expect(dflt.body.data).toMatchObject({ to: D1(), from: dayString(midnight / DAY_MS - 29) });
    expect(dflt.body.data.totals).toMatchObject({ tasks: 6, spentUsd: 2 });
    // `to` alone: 30 days up to it; `from` alone: up to today.
    expect((await t.api('GET', `/api/v1/usage?to=${D()}`, { key })).body.data.totals.tasks).toBe(3);
    expect((await t.api('GET', `/api/v1/usage?from=${D1()}`, { key })).body.data.totals.tasks).toBe(3);
  });

  it("shows only the caller's account", async () => {
    const other = await t.newAccount('usage-other', 10);
    const res = await t.api('GET', `/api/v1/usage?from=${D()}&to=${D1()}`, { key: other.key });
    expect(res.body.data.totals).toEqual({ tasks: 0, succeeded: 0, failed: 0, videoSeconds: 0, spentUsd: 0 });
  });

  it.each([
    ['from=2025-02-30&to=2025-03-01', 'from'],
    ['from=2025-1-01&to=2025-03-01', 'from'],
    ['from=2025-01-01T00:00:00Z', 'from'],
    ['to=2025/03/01', 'to'],
    ['to=yesterday', 'to'],
    ['from=2025-03-02&to=2025-03-01', 'from'],
    ['from=2024-01-01&to=2025-01-01', 'from'], // 367 days
    ['from=2025-01-01&from=2025-01-02', 'from'],
  ])('answers ?%s with a 400 naming %s', async (query, field) => {
    const res = await t.api('GET', `/api/v1/usage?${query}`, { key });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 400, message: 'Invalid request', data: { field } });
  });

  it('takes 366 days (a leap year) at once', async () => {
    const res = await t.api('GET', '/api/v1/usage?from=2024-01-01&to=2024-12-31', { key });
    expect(res.status).toBe(200);
    expect(res.body.data.days).toHaveLength(366);
  });
});

describe('longshot usage', () => {
  it('prints the operator report from the same service', async () => {
    let out = '';
    const database = t.config.databaseUrl ? { DATABASE_URL: t.config.databaseUrl } : {};
    const io = { env: { LONGSHOT_DATA_DIR: t.dataDir, LONGSHOT_LOG_LEVEL: 'error', ...database }, out: (s: string) => (out += s), err: () => undefined };
    expect(await runUsage(['--account', 'usage', '--from', D(), '--to', D1(), '--json'], io)).toBe(0);
    const report = JSON.parse(out);
    expect(report.totals).toEqual({ tasks: 6, succeeded: 4, failed: 1, videoSeconds: 30.04, spentUsd: 2 });
    expect(report.rows.map((r: any) => [r.date, r.accountName, r.model, r.engine, r.tasks, r.succeeded, r.failed, r.videoSeconds, r.spentUsd])).toEqual([
      [D(), 'usage', 'veo-3-1', 'gemini', 1, 0, 0, 0, 0],
      [D(), 'usage', 'veo-3-1', 'local', 1, 1, 0, 8, 0.1],
      [D(), 'usage', 'veo-3-1-extend', 'local', 1, 1, 0, 7, 0.2],
      [D1(), 'usage', 'veo-3-1', null, 1, 0, 0, 0, 0],
      [D1(), 'usage', 'veo-3-1', 'gemini', 0, 1, 0, 8.04, 1.5],
      [D1(), 'usage', 'veo-3-1', 'local', 1, 0, 1, 0, 0],
      [D1(), 'usage', 'veo-3-1-extend', 'local', 1, 1, 0, 7, 0.2],
    ]);
    out = '';
    expect(await runUsage(['--from', D(), '--to', D1()], io)).toBe(0);
    expect(out.split('\n')[0]).toBe(`usage ${D()} .. ${D1()} (UTC)`);
    expect(out).toMatch(/^total\t\t\t\t6\t4\t1\t30\.04\t\$2\.00$/m);
    await expect(runUsage(['--from', 'soon'], io)).rejects.toThrow(/^--from must be a date/);
  });
});

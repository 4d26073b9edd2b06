import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addCredit, createAccount, createApiKey, NO_KEY_SETTINGS } from '../src/db/accounts-repo.js';
import { markRunningEngine } from '../src/db/cancel-repo.js';
import { claimNextTask } from '../src/db/claim-task.js';
import { getBalance, ledgerTotals } from '../src/db/ledger-repo.js';
import type { Caller } from '../src/services/caller.js';
import { cancelTask } from '../src/services/cancel-task.js';
import { settleFailure, settleSuccess } from '../src/services/settle-task.js';
import { submitTask } from '../src/services/submit-task.js';
import { reapExpiredLeases } from '../src/worker/maintenance.js';
import { shiftClock, startTestService, type TestService } from './support/service.js';

/**
 * The ledger invariant under any sequence of submit / claim / succeed / fail / racing settles /
 * cancel / credit / crash-and-recover: the running totals equal the append-only ledger,
 * available + held + captured = credits, nothing goes negative, and every hold is settled at most
 * once — exactly once when its task is final.
 */
let t: TestService;
let time: { offset: number };
beforeAll(async () => {
  t = await startTestService({ LONGSHOT_LEASE_MS: '1000', LONGSHOT_MAX_ATTEMPTS: '2' }, { workers: false });
  time = shiftClock(t);
});
afterAll(() => t?.close());

/** The engine a claimed task runs on: none yet, one that stops when aborted, one that cannot (not configured here, so never cancellable). */
type RunningEngine = null | 'local' | 'gemini';

type Op =
  | { op: 'submit'; mode: 'fast' | 'quality' }
  | { op: 'claim' }
  | { op: 'succeed'; pick: number }
  | { op: 'fail'; pick: number }
  | { op: 'race'; pick: number }
  | { op: 'cancel'; pick: number }
  | { op: 'cancelRunning'; pick: number; engine: RunningEngine }
  | { op: 'credit'; cents: number }
  | { op: 'crash' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('submit' as const), mode: fc.constantFrom('fast' as const, 'quality' as const) }),
  fc.constant({ op: 'claim' as const }),
  fc.record({ op: fc.constant('succeed' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('fail' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('race' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('cancel' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('cancelRunning' as const), pick: fc.nat(), engine: fc.constantFrom<RunningEngine>(null, 'local', 'gemini') }),
  fc.record({ op: fc.constant('credit' as const), cents: fc.integer({ min: 1, max: 500 }) }),
  fc.constant({ op: 'crash' as const }),
);

const FIELDS = {
  engine: 'local',
  result_key: 'k',
  poster_key: 'p',
  result_size: 1,
  result_etag: 'e',
  duration_ms: 8000,
  width: 1280,
  height: 720,
  expires_at: 0,
};
let runs = 0;

async function checkInvariant(accountId: string): Promise<void> {
  const { db } = t.service.deps;
  const b = (await getBalance(db, accountId))!;
  const { availableMicros, ...running } = b;
  expect(await ledgerTotals(db, accountId)).toEqual(running);
  expect(availableMicros).toBeGreaterThanOrEqual(0);
  expect(b.heldMicros).toBeGreaterThanOrEqual(0);
  expect(availableMicros + b.heldMicros + b.capturedMicros).toBe(b.creditMicros);
  const tasks = await db.kysely.selectFrom('tasks').select(['id', 'state', 'price_micros']).where('account_id', '=', accountId).execute();
  const settles = await db.kysely
    .selectFrom('ledger_entries')
    .select(['task_id', 'kind'])
    .where('account_id', '=', accountId)
    .where('kind', 'in', ['capture', 'release'])
    .execute();
  let unfinishedHeld = 0;
  for (const task of tasks) {
    const mine = settles.filter((s) => s.task_id === task.id);
    const final = task.state === 'success' || task.state === 'failed';
    expect(mine.length).toBe(final ? 1 : 0);
    if (final) expect(mine[0]!.kind).toBe(task.state === 'success' ? 'capture' : 'release');
    else unfinishedHeld += Number(task.price_micros);
  }
  expect(b.heldMicros).toBe(unfinishedHeld);
}

describe('ledger invariant (property)', () => {
  it('holds after every step of any sequence', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
        const { deps } = t.service;
        const account = await createAccount(deps.db, `prop-${runs++}`, 3_000_000, deps.clock.now());
        const key = await createApiKey(deps.db, account.id, null, deps.clock.now());
        const caller: Caller = { accountId: account.id, keyId: key.id, settings: NO_KEY_SETTINGS };
        const leased = new Map<string, string>(); // task id → lease token held by "our" worker
        const pending: string[] = [];
        let tokens = 0;
        const pick = <T>(xs: T[], n: number): T | undefined => (xs.length ? xs[n % xs.length] : undefined);
        const owned = async () =>
          await deps.db.kysely
            .selectFrom('tasks')
            .select(['id', 'account_id', 'price_micros', 'model', 'create_time'])
            .where('account_id', '=', account.id)
            .execute();
        for (const o of ops) {
          switch (o.op) {
            case 'submit': {
              const out = await submitTask(deps, caller, 'veo-3-1', { input: { prompt: 'x', mode: o.mode } });
              if (out.ok) pending.push(out.taskId);
              else expect(out.status).toBe(402);
              break;
            }
            case 'claim': {
              const token = `tok-${tokens++}`;
              const task = await claimNextTask(deps.db, deps.clock.now(), deps.config.leaseMs, token);
              if (task && task.account_id === account.id) leased.set(task.id, token);
              else if (task) await settleFailure(deps, task, token, 'INTERNAL_ERROR', 'foreign task in property run');
              break;
            }
            case 'succeed':
            case 'fail': {
              const id = pick([...leased.keys()], o.pick);
              if (!id) break;
              const task = (await owned()).find((x) => x.id === id)!;
              if (o.op === 'succeed') await settleSuccess(deps, task, leased.get(id)!, FIELDS);
              else await settleFailure(deps, task, leased.get(id)!, 'UPSTREAM_ERROR', 'failed');
              leased.delete(id);
              break;
            }
            case 'race': {
              // Two pollers and the worker settle the same task at once: exactly one may win.
              const id = pick([...leased.keys()], o.pick);
              if (!id) break;
              const task = (await owned()).find((x) => x.id === id)!;
              const token = leased.get(id)!;
              const wins = await Promise.all([
                settleFailure(deps, task, token, 'TIMEOUT', 'a'),
                settleSuccess(deps, task, token, FIELDS),
                settleFailure(deps, task, token, 'UPSTREAM_ERROR', 'b'),
              ]);
              expect(wins.filter(Boolean)).toHaveLength(1);
              leased.delete(id);
              break;
            }
            case 'cancel': {
              // The task may have been claimed since: on an engine that stops when aborted (none has
              // started here) the cancel ends it too, and the worker's late settle must then lose.
              const id = pick(pending, o.pick);
              if (!id) break;
              const out = await cancelTask(deps, caller, id);
              const token = leased.get(id);
              if (out.ok && token) {
                const task = (await owned()).find((x) => x.id === id)!;
                expect(await settleSuccess(deps, task, token, FIELDS)).toBe(false);
                leased.delete(id);
              }
              break;
            }
            case 'cancelRunning': {
              // The client cancels while the worker's success settles: exactly one may win, and
              // where the engine cannot stop its work the cancel never wins.
              const id = pick([...leased.keys()], o.pick);
              if (!id) break;
              const token = leased.get(id)!;
              if (o.engine) expect(await markRunningEngine(deps.db, id, token, o.engine)).toBe(true);
              const task = (await owned()).find((x) => x.id === id)!;
              const [cancel, succeeded] = await Promise.all([cancelTask(deps, caller, id), settleSuccess(deps, task, token, FIELDS)]);
              expect([cancel.ok, succeeded].filter(Boolean)).toHaveLength(1);
              if (o.engine === 'gemini') expect(succeeded).toBe(true);
              if (!cancel.ok) expect(cancel.status).toBe(409);
              leased.delete(id);
              break;
            }
            case 'credit':
              await deps.db.writeTx((trx) => addCredit(trx, account.id, o.cents * 10_000, null, deps.clock.now()));
              break;
            case 'crash':
              // Our worker dies: its leases run out and the reaper hands the tasks back (or fails
              // them after their last attempt); a late settle with the old token must then lose.
              time.offset += deps.config.leaseMs + 1;
              await reapExpiredLeases(deps);
              for (const [id, token] of leased) {
                const task = (await owned()).find((x) => x.id === id)!;
                expect(await settleSuccess(deps, task, token, FIELDS)).toBe(false);
              }
              leased.clear();
              break;
          }
          await checkInvariant(account.id);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('refuses a hold that only money already captured would cover (the property found this)', async () => {
    // $3 of credit: $1.50 charged, $0.20 held, so $1.30 is available and a $1.50 task is a 402.
    const { deps } = t.service;
    const account = await createAccount(deps.db, `captured-${runs++}`, 3_000_000, deps.clock.now());
    const key = await createApiKey(deps.db, account.id, null, deps.clock.now());
    const caller: Caller = { accountId: account.id, keyId: key.id, settings: NO_KEY_SETTINGS };
    const first = await submitTask(deps, caller, 'veo-3-1', { input: { prompt: 'x', mode: 'quality' } });
    expect(first.ok).toBe(true);
    // Other runs may have left pending tasks: claim until ours, failing the others like the property does.
    for (;;) {
      const task = (await claimNextTask(deps.db, deps.clock.now(), deps.config.leaseMs, 'tok-captured'))!;
      if (task.account_id !== account.id) {
        await settleFailure(deps, task, 'tok-captured', 'INTERNAL_ERROR', 'foreign task in property run');
        continue;
      }
      expect(await settleSuccess(deps, task, 'tok-captured', FIELDS)).toBe(true);
      break;
    }
    expect((await submitTask(deps, caller, 'veo-3-1', { input: { prompt: 'x', mode: 'fast' } })).ok).toBe(true);
    const refused = await submitTask(deps, caller, 'veo-3-1', { input: { prompt: 'x', mode: 'quality' } });
    expect(refused).toMatchObject({ ok: false, status: 402 });
    expect(await getBalance(deps.db, account.id)).toMatchObject({ availableMicros: 1_300_000, heldMicros: 200_000, capturedMicros: 1_500_000 });
    await checkInvariant(account.id);
  });

  it('settles a cancel racing a success exactly once, repeated many times', async () => {
    const { deps } = t.service;
    const account = await createAccount(deps.db, `race-${runs++}`, 1_000_000_000, deps.clock.now());
    const key = await createApiKey(deps.db, account.id, null, deps.clock.now());
    const caller: Caller = { accountId: account.id, keyId: key.id, settings: NO_KEY_SETTINGS };
    const wins = { cancel: 0, success: 0 };
    for (let i = 0; i < 150; i++) {
      const out = await submitTask(deps, caller, 'veo-3-1', { input: { prompt: `race ${i}`, mode: 'fast' } });
      if (!out.ok) throw new Error(`submit refused: ${out.status}`);
      const token = `race-${i}`;
      // Tasks the property runs left pending are claimed first; fail them out of the way.
      let task = await claimNextTask(deps.db, deps.clock.now(), deps.config.leaseMs, token);
      while (task && task.id !== out.taskId) {
        await settleFailure(deps, task, token, 'INTERNAL_ERROR', 'left by the property run');
        task = await claimNextTask(deps.db, deps.clock.now(), deps.config.leaseMs, token);
      }
      expect(task?.id).toBe(out.taskId);
      await markRunningEngine(deps.db, out.taskId, token, 'local');
      // Either order of starting: the race is decided by the database, not by who asked first.
      const racers = [() => cancelTask(deps, caller, out.taskId).then((c) => c.ok), () => settleSuccess(deps, task!, token, FIELDS)];
      const [cancelled, succeeded] = i % 2 === 0 ? await Promise.all(racers.map((r) => r())) : (await Promise.all(racers.reverse().map((r) => r()))).reverse();
      expect([cancelled, succeeded].filter(Boolean)).toHaveLength(1);
      if (cancelled) wins.cancel++;
      else wins.success++;
    }
    await checkInvariant(account.id);
    expect(wins.cancel + wins.success).toBe(150);
  });
});

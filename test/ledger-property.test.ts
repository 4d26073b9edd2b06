import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addCredit, createAccount, createApiKey, NO_KEY_SETTINGS } from '../src/db/accounts-repo.js';
import { getBalance, ledgerTotals } from '../src/db/ledger-repo.js';
import { claimNextTask } from '../src/db/tasks-repo.js';
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

type Op =
  | { op: 'submit'; mode: 'fast' | 'quality' }
  | { op: 'claim' }
  | { op: 'succeed'; pick: number }
  | { op: 'fail'; pick: number }
  | { op: 'race'; pick: number }
  | { op: 'cancel'; pick: number }
  | { op: 'credit'; cents: number }
  | { op: 'crash' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('submit' as const), mode: fc.constantFrom('fast' as const, 'quality' as const) }),
  fc.constant({ op: 'claim' as const }),
  fc.record({ op: fc.constant('succeed' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('fail' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('race' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('cancel' as const), pick: fc.nat() }),
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
              const id = pick(pending, o.pick);
              if (id) await cancelTask(deps, caller, id);
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
});

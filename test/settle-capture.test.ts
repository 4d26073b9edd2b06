import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimNextTask } from '../src/db/claim-task.js';
import { getBalance, ledgerTotals, placeHold } from '../src/db/ledger-repo.js';
import { insertTask, releaseExpiredLease, type TaskRow } from '../src/db/tasks-repo.js';
import { settleCancel, settleSuccess } from '../src/services/settle-task.js';
import { startTestService, type TestService } from './support/service.js';
import { successFields, taskRow } from './support/task-rows.js';

/**
 * A success settles exactly once, whichever way it is written (on PostgreSQL a task without a
 * callback settles in one statement, db/capture-statement.ts; a callback task in a transaction):
 * one capture in the ledger, the balance moved once, a delivery row for a callback task only.
 * Run on SQLite, and on PostgreSQL with LONGSHOT_TEST_DATABASE=postgres.
 */
let t: TestService;
let owner: { accountId: string; keyId: string };
const PRICE = 300_000;
beforeAll(async () => {
  t = await startTestService({}, { workers: false });
  const a = await t.newAccount('settle-capture', 100);
  const key = await t.service.deps.db.kysely.selectFrom('api_keys').select('id').where('account_id', '=', a.accountId).executeTakeFirstOrThrow();
  owner = { accountId: a.accountId, keyId: key.id };
});
afterAll(() => t?.close());

const fields = (id: string) => successFields(id, 0, { result_size: 7, result_etag: '"7"', expires_at: 9_000_000_000_000 });

/** A pending task with its hold placed, as a submit leaves it; claimed with a fresh lease. */
async function claimed(extra: Partial<TaskRow> = {}): Promise<{ task: TaskRow; token: string }> {
  const { db, clock } = t.service.deps;
  const now = clock.now();
  const row = taskRow(owner, now - 1000, { state: 'pending', price_micros: PRICE, run_after: now - 1000, ...extra });
  await db.writeTx(async (trx) => {
    await insertTask(trx, row);
    if (row.price_micros > 0) expect(await placeHold(trx, owner.accountId, row.id, row.price_micros, now)).toBe(true);
  });
  const token = randomUUID();
  const task = await claimNextTask(db, now, 30_000, token);
  expect(task?.id).toBe(row.id);
  return { task: task!, token };
}

async function settlesOf(taskId: string) {
  return t.service.deps.db.kysely
    .selectFrom('ledger_entries')
    .select(['kind', 'amount_micros'])
    .where('task_id', '=', taskId)
    .where('kind', '<>', 'hold')
    .execute();
}
async function deliveriesOf(taskId: string) {
  return t.service.deps.db.kysely.selectFrom('webhook_deliveries').select(['event']).where('task_id', '=', taskId).execute();
}
async function expectLedgerBalanced() {
  const { db } = t.service.deps;
  const { availableMicros: _a, ...running } = (await getBalance(db, owner.accountId))!;
  expect(await ledgerTotals(db, owner.accountId)).toEqual(running);
}

describe('settling a success', () => {
  it('wins once among racing settles of the holder and of stale tokens, and captures once', async () => {
    const before = (await getBalance(t.service.deps.db, owner.accountId))!;
    const { task, token } = await claimed();
    const deps = t.service.deps;
    const results = await Promise.all([
      ...Array.from({ length: 6 }, () => settleSuccess(deps, task, token, fields(task.id))),
      ...Array.from({ length: 3 }, () => settleSuccess(deps, task, randomUUID(), fields(task.id))),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await settlesOf(task.id)).toEqual([{ kind: 'capture', amount_micros: PRICE }]);
    const after = (await getBalance(deps.db, owner.accountId))!;
    expect(after.heldMicros).toBe(before.heldMicros);
    expect(after.capturedMicros).toBe(before.capturedMicros + PRICE);
    const row = await deps.db.kysely.selectFrom('tasks').selectAll().where('id', '=', task.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ state: 'success', lease_token: null, lease_expires_at: null, ...fields(task.id) });
    expect(await deliveriesOf(task.id)).toEqual([]);
    await expectLedgerBalanced();
  });

  it('writes nothing for a holder whose lease ran out and was taken over', async () => {
    const deps = t.service.deps;
    const { task, token } = await claimed();
    const later = deps.clock.now() + 60_000;
    expect(await releaseExpiredLease(deps.db, task.id, token, later, later)).toBe(true);
    const next = randomUUID();
    expect((await claimNextTask(deps.db, later, 30_000, next))?.id).toBe(task.id);
    expect(await settleSuccess(deps, task, token, fields(task.id))).toBe(false);
    expect(await settlesOf(task.id)).toEqual([]);
    expect(await settleSuccess(deps, task, next, fields(task.id))).toBe(true);
    expect(await settlesOf(task.id)).toEqual([{ kind: 'capture', amount_micros: PRICE }]);
    await expectLedgerBalanced();
  });

  it('queues the webhook delivery of a callback task exactly once', async () => {
    const deps = t.service.deps;
    const { task, token } = await claimed({ request_type: 'callback', callback_url: 'https://example.test/hook' });
    const results = await Promise.all(Array.from({ length: 4 }, () => settleSuccess(deps, task, token, fields(task.id))));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await deliveriesOf(task.id)).toEqual([{ event: 'success' }]);
    expect(await settlesOf(task.id)).toEqual([{ kind: 'capture', amount_micros: PRICE }]);
    await expectLedgerBalanced();
  });

  it('settles a free task without a ledger entry or a balance change', async () => {
    const deps = t.service.deps;
    const before = (await getBalance(deps.db, owner.accountId))!;
    const { task, token } = await claimed({ price_micros: 0 });
    expect(await settleSuccess(deps, task, token, fields(task.id))).toBe(true);
    expect(await settlesOf(task.id)).toEqual([]);
    expect(await getBalance(deps.db, owner.accountId)).toEqual(before);
  });

  it('races a cancel: the hold is captured or released, never both', async () => {
    const deps = t.service.deps;
    for (let i = 0; i < 5; i++) {
      const { task, token } = await claimed();
      const [won, cancelled] = await Promise.all([settleSuccess(deps, task, token, fields(task.id)), settleCancel(deps, { ...task, engine: null }, ['local'])]);
      expect(won !== cancelled).toBe(true);
      expect(await settlesOf(task.id)).toEqual([{ kind: won ? 'capture' : 'release', amount_micros: PRICE }]);
    }
    await expectLedgerBalanced();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, type TestDb } from '../../test/support/databases.js';
import { newTaskId } from '../domain/ids.js';
import { createAccount } from './accounts-repo.js';
import { CLAIM_HEAD_SCAN_MS, claimNextTask } from './claim-task.js';
import { getBalance, ledgerTotals, placeHold, settleHold } from './ledger-repo.js';
import { findExpiredLeases, insertTask, markFailed, markSucceeded, releaseExpiredLease, renewLease, requeue, type TaskRow } from './tasks-repo.js';

/** The task queue and ledger port suite, run against every database implementation. */
for (const dialect of DIALECTS) {
  describe(`queue and ledger on ${dialect.name}`, () => {
    let t: TestDb;
    let accountId = '';
    beforeAll(async () => {
      t = await dialect.open();
      accountId = (await createAccount(t.db, 'acct', 1_000_000, 1000)).id;
    });
    afterAll(() => t?.drop());

    const task = (id: string, now: number): TaskRow => ({
      id,
      account_id: accountId,
      api_key_id: 'k',
      model: 'veo-3-1',
      state: 'pending',
      request_type: 'async',
      callback_url: null,
      callback_events: null,
      progress_event_at: null,
      provider: 'auto',
      input: '{}',
      source_task_id: null,
      chain_depth: 0,
      price_micros: 0,
      create_time: now,
      start_time: null,
      complete_time: null,
      fail_code: null,
      fail_msg: null,
      attempts: 0,
      run_after: now,
      lease_token: null,
      lease_expires_at: null,
      engine: null,
      result_key: null,
      poster_key: null,
      result_size: null,
      result_etag: null,
      duration_ms: null,
      width: null,
      height: null,
      expires_at: null,
      deleted_at: null,
      delete_reason: null,
      progress: null,
    });

    it('hands each pending task to exactly one of many concurrent claimers, oldest first', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) {
        const id = newTaskId(5000 + i);
        ids.push(id);
        await t.db.writeTx((trx) => insertTask(trx, task(id, 5000 + i)));
      }
      const claims = await Promise.all(Array.from({ length: 25 }, (_, i) => claimNextTask(t.db, 10_000, 30_000, `tok-${i}`)));
      const won = claims.filter((c) => c !== undefined).map((c) => c!.id);
      expect(won.sort()).toEqual([...ids].sort());
      expect(new Set(won).size).toBe(10);
      const first = claims.find((c) => c?.id === ids[0])!;
      expect(first.state).toBe('processing');
      expect(first.attempts).toBe(1);
      expect(await claimNextTask(t.db, 10_000, 30_000, 'late')).toBeUndefined();
    });

    it('claims a task that became due behind the last claim: at once on SQLite, within CLAIM_HEAD_SCAN_MS on PostgreSQL', async () => {
      const at = 100_000;
      const add = (id: string, runAfter: number) => t.db.writeTx((trx) => insertTask(trx, task(id, runAfter)));
      const [a, b, c] = [1, 2, 3].map((i) => newTaskId(at + i)) as [string, string, string];
      for (const [i, id] of [a, b, c].entries()) await add(id, at + i + 1);
      const claim = async (now: number) => (await claimNextTask(t.db, now, 30_000, `tok-${now}-${Math.random()}`))?.id;
      expect(await claim(at + 10)).toBe(a); // from the head: the last head scan was long ago
      // Due before the last claim, as a task whose lease ran out keeps its place in the queue.
      const early = newTaskId(at - 50);
      await add(early, at - 50);
      const pg = dialect.name === 'postgres';
      expect(await claim(at + 20)).toBe(pg ? b : early); // PostgreSQL scans on from the last claim
      expect(await claim(at + 10 + CLAIM_HEAD_SCAN_MS)).toBe(pg ? early : b); // …and from the head once that is due
      expect(await claim(at + 10 + CLAIM_HEAD_SCAN_MS)).toBe(c);
      // Nothing after the last claim: the head scan that follows finds what is behind it at once.
      const late = newTaskId(at - 40);
      await add(late, at - 40);
      expect(await claim(at + 20 + CLAIM_HEAD_SCAN_MS)).toBe(late);
      expect(await claim(at + 20 + CLAIM_HEAD_SCAN_MS)).toBeUndefined();
    });

    it('fences by lease token: only the holder renews or finishes', async () => {
      const id = newTaskId(20_000);
      await t.db.writeTx((trx) => insertTask(trx, task(id, 20_000)));
      const claimed = await claimNextTask(t.db, 20_000, 1000, 'holder');
      expect(claimed?.id).toBe(id);
      expect(await renewLease(t.db, id, 'intruder', 20_100, 1000)).toBe(false);
      expect(await renewLease(t.db, id, 'holder', 20_100, 1000)).toBe(true);
      // The lease runs out; the reaper hands the task back and another worker claims it.
      const expired = await findExpiredLeases(t.db, 22_000);
      expect(expired.map((e) => e.id)).toContain(id);
      expect(await releaseExpiredLease(t.db, id, 'holder', 22_000, 22_000)).toBe(true);
      const again = await claimNextTask(t.db, 22_000, 1000, 'second');
      expect(again?.id).toBe(id);
      expect(again?.attempts).toBe(2);
      // The first holder wakes up late: it can neither succeed nor fail the task.
      const fields = {
        engine: 'local',
        result_key: 'k',
        poster_key: 'p',
        result_size: 1,
        result_etag: 'e',
        duration_ms: 1,
        width: 1,
        height: 1,
        expires_at: 1,
      };
      expect(await t.db.writeTx((trx) => markSucceeded(trx, id, 'holder', 22_500, fields))).toBe(false);
      expect(await t.db.writeTx((trx) => markFailed(trx, id, 'holder', 22_500, 'TIMEOUT', 'x', null))).toBe(false);
      expect(await t.db.writeTx((trx) => markSucceeded(trx, id, 'second', 22_500, fields))).toBe(true);
      expect(await t.db.writeTx((trx) => markFailed(trx, id, 'second', 22_600, 'TIMEOUT', 'x', null))).toBe(false);
    });

    it('requeues with a delay and does not hand the task out before it is due', async () => {
      const id = newTaskId(30_000);
      await t.db.writeTx((trx) => insertTask(trx, task(id, 30_000)));
      await claimNextTask(t.db, 30_000, 1000, 'a');
      expect(await requeue(t.db, id, 'a', 35_000)).toBe(true);
      expect(await claimNextTask(t.db, 34_999, 1000, 'b')).toBeUndefined();
      expect((await claimNextTask(t.db, 35_000, 1000, 'b'))?.id).toBe(id);
    });

    it('never overdraws: concurrent holds stop at the credit', async () => {
      const acct = (await createAccount(t.db, 'tight', 1_000_000, 1)).id; // covers exactly 5 × $0.20
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => t.db.writeTx((trx) => placeHold(trx, acct, `task-${i}`, 200_000, 2)).catch(() => false)),
      );
      expect(results.filter(Boolean)).toHaveLength(5);
      const b = await getBalance(t.db, acct);
      expect(b).toEqual({ creditMicros: 1_000_000, heldMicros: 1_000_000, capturedMicros: 0, availableMicros: 0 });
    });

    it('settles a hold at most once and keeps the running totals equal to the ledger', async () => {
      const acct = (await createAccount(t.db, 'settle', 2_000_000, 1)).id;
      await t.db.writeTx((trx) => placeHold(trx, acct, 'h1', 500_000, 2));
      await t.db.writeTx((trx) => placeHold(trx, acct, 'h2', 500_000, 2));
      await t.db.writeTx((trx) => settleHold(trx, acct, 'h1', 500_000, 'capture', 3));
      await expect(t.db.writeTx((trx) => settleHold(trx, acct, 'h1', 500_000, 'capture', 3))).rejects.toThrow();
      await t.db.writeTx((trx) => settleHold(trx, acct, 'h2', 500_000, 'release', 3));
      await expect(t.db.writeTx((trx) => settleHold(trx, acct, 'h2', 500_000, 'release', 3))).rejects.toThrow();
      const b = await getBalance(t.db, acct);
      expect(b).toEqual({ creditMicros: 2_000_000, heldMicros: 0, capturedMicros: 500_000, availableMicros: 1_500_000 });
      const { availableMicros: _a, ...totals } = b!;
      expect(await ledgerTotals(t.db, acct)).toEqual(totals);
    });
  });
}

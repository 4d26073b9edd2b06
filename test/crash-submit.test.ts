import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApiKey, findAccountByName } from '../src/db/accounts-repo.js';
import { openDb } from '../src/db/connect.js';
import { ledgerTotals } from '../src/db/ledger-repo.js';
import { type ChildService, startChildService, waitForExit } from './support/child-service.js';
import { createPgSchema } from './support/databases.js';
import { available } from './support/requires.js';

/**
 * An API process killed (SIGKILL) while submits are being committed in batches (group commit on
 * SQLite; on PostgreSQL the set-based batches, plain, with an Idempotency-Key and of a budgeted
 * key): every task it acknowledged is in the database, every hold has its task and every task its
 * hold, the running totals equal the ledger, and the budgeted key's spend equals its tasks' holds.
 */
const children: ChildService[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of children) c.child.kill('SIGKILL');
  for (const clean of cleanups) await clean();
});

const base = process.env.DATABASE_URL;
const targets = [
  { name: 'sqlite', pg: false },
  ...(available('PostgreSQL (DATABASE_URL)', base ? null : 'DATABASE_URL is not set') ? [{ name: 'postgres', pg: true }] : []),
];

describe.each(targets)('an API process killed mid-batch ($name)', ({ pg }) => {
  it('loses no acknowledged task and leaves no hold without a task', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'longshot-crash-submit-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    let databaseUrl: string | null = null;
    if (pg) {
      const schema = await createPgSchema(base!, `crash_${randomBytes(6).toString('hex')}`);
      cleanups.push(schema.drop);
      databaseUrl = schema.url;
    }
    const env = {
      LONGSHOT_DATA_DIR: dataDir,
      LONGSHOT_SUBMIT_RPM: '0',
      LONGSHOT_STATUS_RPM: '0',
      LONGSHOT_MAX_UNFINISHED: '0',
      LONGSHOT_INITIAL_CREDIT_USD: '1000000',
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    };
    const api = await startChildService(env, ['--role', 'api']);
    children.push(api);
    const headers = { authorization: `Bearer ${api.key!}`, 'content-type': 'application/json' };
    // A second key of the same account with a daily budget it never reaches: its submits are charged to its spend row.
    const setup = openDb({ dataDir, databaseUrl });
    const account = (await findAccountByName(setup, 'default'))!;
    const budgetKey = (await createApiKey(setup, account.id, 'budgeted', Date.now(), { budgetMicros: 1e12, budgetPeriod: 'day' })).key;
    await setup.close();
    const acknowledged: string[] = [];
    let killed = false;
    // 32 clients submitting back to back; every fourth request carries an Idempotency-Key, and
    // another fourth uses the budgeted key.
    const client = async (c: number) => {
      for (let i = 0; !killed; i++) {
        const idem: Record<string, string> = c % 4 === 0 ? { 'idempotency-key': `c${c}-${i}` } : {};
        const auth = c % 4 === 1 ? { authorization: `Bearer ${budgetKey}` } : {};
        try {
          const res = await fetch(`${api.url}/api/v1/generateTask/veo-3-1`, {
            method: 'POST',
            headers: { ...headers, ...idem, ...auth },
            body: JSON.stringify({ input: { prompt: `crash ${c} ${i}`, mode: 'fast' } }),
          });
          const body = (await res.json()) as { code: number; data?: { taskId: string } };
          if (res.status === 200 && body.code === 200) acknowledged.push(body.data!.taskId);
        } catch {
          return; // the process is gone
        }
      }
    };
    const clients = Array.from({ length: 32 }, (_, c) => client(c));
    while (acknowledged.length < 400) await new Promise((r) => setTimeout(r, 5));
    api.child.kill('SIGKILL');
    killed = true;
    expect((await waitForExit(api.child)).signal).toBe('SIGKILL');
    await Promise.all(clients);

    const db = openDb({ dataDir, databaseUrl });
    try {
      const tasks = await db.kysely.selectFrom('tasks').select(['id', 'account_id', 'api_key_id', 'price_micros']).execute();
      const holds = await db.kysely.selectFrom('ledger_entries').select(['task_id', 'amount_micros']).where('kind', '=', 'hold').execute();
      const taskIds = new Set(tasks.map((t) => t.id));
      expect(acknowledged.filter((id) => !taskIds.has(id))).toEqual([]);
      expect(holds.map((h) => h.task_id).sort()).toEqual([...taskIds].sort());
      for (const t of tasks) expect(Number(holds.find((h) => h.task_id === t.id)!.amount_micros)).toBe(Number(t.price_micros));
      const accountId = tasks[0]!.account_id;
      const balance = (await db.kysely.selectFrom('balances').selectAll().where('account_id', '=', accountId).executeTakeFirstOrThrow())!;
      const totals = await ledgerTotals(db, accountId);
      expect(Number(balance.held_micros)).toBe(totals.heldMicros);
      expect(totals.heldMicros).toBe(tasks.reduce((sum, t) => sum + Number(t.price_micros), 0));
      expect(Number(balance.credit_micros)).toBe(totals.creditMicros);
      // The budgeted key's spend is exactly what its tasks hold (none failed: nothing ran).
      const spend = await db.kysely.selectFrom('key_spend').select(['key_id', 'spent_micros']).execute();
      expect(spend).toHaveLength(1);
      const budgeted = tasks.filter((t) => t.api_key_id === spend[0]!.key_id);
      expect(budgeted.length).toBeGreaterThan(0);
      expect(Number(spend[0]!.spent_micros)).toBe(budgeted.reduce((sum, t) => sum + Number(t.price_micros), 0));
    } finally {
      await db.close();
    }
  });
});

import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { BudgetPeriod } from '../domain/budget.js';
import { newShortId } from '../domain/ids.js';
import type { Model, Strategy } from '../domain/models.js';
import type { Db } from './connect.js';
import { seedKeySpend } from './key-spend-repo.js';
import type { ApiKeysTable, Database } from './schema.js';

export interface AccountRow {
  id: string;
  name: string;
  webhook_secret: string;
  created_at: number;
}

/**
 * What a key may do. Lists are null for "everything"; limits are null for the service default, 0
 * for unlimited; a budget of 0 is none.
 */
export interface KeySettings {
  models: Model[] | null;
  strategies: Strategy[] | null;
  defaultStrategy: Strategy | null;
  submitRpm: number | null;
  statusRpm: number | null;
  maxUnfinished: number | null;
  /** What the key's tasks may hold or capture per period, in micro-dollars; 0 = no budget. */
  budgetMicros: number;
  budgetPeriod: BudgetPeriod;
}

export interface KeyRecord extends KeySettings {
  id: string;
  accountId: string;
  label: string | null;
  createdAt: number;
  revokedAt: number | null;
}

export const NO_KEY_SETTINGS: KeySettings = {
  models: null,
  strategies: null,
  defaultStrategy: null,
  submitRpm: null,
  statusRpm: null,
  maxUnfinished: null,
  budgetMicros: 0,
  budgetPeriod: 'day',
};

type KeyColumns = Pick<
  ApiKeysTable,
  'allowed_models' | 'allowed_strategies' | 'default_strategy' | 'submit_rpm' | 'status_rpm' | 'max_unfinished' | 'budget_micros' | 'budget_period'
>;

function settingsToColumns(s: Partial<KeySettings>): Partial<KeyColumns> {
  const cols: Partial<KeyColumns> = {};
  if (s.models !== undefined) cols.allowed_models = s.models === null ? null : JSON.stringify(s.models);
  if (s.strategies !== undefined) cols.allowed_strategies = s.strategies === null ? null : JSON.stringify(s.strategies);
  if (s.defaultStrategy !== undefined) cols.default_strategy = s.defaultStrategy;
  if (s.submitRpm !== undefined) cols.submit_rpm = s.submitRpm;
  if (s.statusRpm !== undefined) cols.status_rpm = s.statusRpm;
  if (s.maxUnfinished !== undefined) cols.max_unfinished = s.maxUnfinished;
  if (s.budgetMicros !== undefined) cols.budget_micros = s.budgetMicros;
  if (s.budgetPeriod !== undefined) cols.budget_period = s.budgetPeriod;
  return cols;
}

export function columnsToSettings(c: KeyColumns): KeySettings {
  return {
    models: c.allowed_models === null ? null : (JSON.parse(c.allowed_models) as Model[]),
    strategies: c.allowed_strategies === null ? null : (JSON.parse(c.allowed_strategies) as Strategy[]),
    defaultStrategy: c.default_strategy as Strategy | null,
    submitRpm: c.submit_rpm === null ? null : Number(c.submit_rpm),
    statusRpm: c.status_rpm === null ? null : Number(c.status_rpm),
    maxUnfinished: c.max_unfinished === null ? null : Number(c.max_unfinished),
    budgetMicros: Number(c.budget_micros),
    budgetPeriod: c.budget_period === 'month' ? 'month' : 'day',
  };
}

/** API keys are `lsk_` + 32 random bytes (base64url). Only their SHA-256 is stored. */
function newApiKey(): string {
  return `lsk_${randomBytes(32).toString('base64url')}`;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export async function createAccount(db: Db, name: string, creditMicros: number, now: number): Promise<AccountRow> {
  const account: AccountRow = {
    id: newShortId('acc_'),
    name,
    webhook_secret: `whsec_${randomBytes(24).toString('base64')}`,
    created_at: now,
  };
  await db.writeTx(async (trx) => {
    await trx.insertInto('accounts').values(account).execute();
    await trx.insertInto('balances').values({ account_id: account.id, credit_micros: 0, held_micros: 0, captured_micros: 0 }).execute();
    if (creditMicros > 0) await addCredit(trx, account.id, creditMicros, 'initial credit', now);
  });
  return account;
}

/** Appends a credit entry and raises the running total; call inside a write transaction. */
export async function addCredit(trx: Kysely<Database>, accountId: string, micros: number, note: string | null, now: number): Promise<void> {
  await trx
    .insertInto('ledger_entries')
    .values({ account_id: accountId, kind: 'credit', amount_micros: micros, task_id: null, note, created_at: now })
    .execute();
  await trx
    .updateTable('balances')
    .set((eb) => ({ credit_micros: eb('credit_micros', '+', micros) }))
    .where('account_id', '=', accountId)
    .execute();
}

export async function findAccountByName(db: Db, name: string): Promise<AccountRow | undefined> {
  return db.kysely.selectFrom('accounts').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function listAccounts(db: Db) {
  return db.kysely
    .selectFrom('accounts')
    .innerJoin('balances', 'balances.account_id', 'accounts.id')
    .select(['accounts.id', 'accounts.name', 'accounts.created_at', 'balances.credit_micros', 'balances.held_micros', 'balances.captured_micros'])
    .orderBy('accounts.created_at')
    .execute();
}

export async function countAccounts(db: Db): Promise<number> {
  const row = await db.kysely
    .selectFrom('accounts')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Creates a key for the account and returns the key text, which is shown once and never stored. */
export async function createApiKey(
  db: Db,
  accountId: string,
  label: string | null,
  now: number,
  settings: Partial<KeySettings> = {},
): Promise<{ id: string; key: string }> {
  const key = newApiKey();
  const id = newShortId('key_');
  await db.kysely
    .insertInto('api_keys')
    .values({
      id,
      account_id: accountId,
      key_hash: hashApiKey(key),
      label,
      created_at: now,
      revoked_at: null,
      ...settingsToColumns({ ...NO_KEY_SETTINGS, ...settings }),
    } as ApiKeysTable)
    .execute();
  return { id, key };
}

/**
 * Changes a key's label, permissions, limits or budget; takes effect within the auth cache's 1 s.
 * A budget that is set, or whose period changes, starts from what the key's tasks already hold or
 * captured in the current period, so a budget set mid-month counts the month's spend so far.
 */
export async function updateApiKey(
  db: Db,
  keyId: string,
  changes: Partial<KeySettings> & { label?: string | null },
  now: number,
): Promise<KeyRecord | undefined> {
  const { label, ...settings } = changes;
  const cols = { ...settingsToColumns(settings), ...(label !== undefined ? { label } : {}) };
  return db.writeTx(async (trx) => {
    if (Object.keys(cols).length > 0) await trx.updateTable('api_keys').set(cols).where('id', '=', keyId).execute();
    const row = await trx.selectFrom('api_keys').selectAll().where('id', '=', keyId).executeTakeFirst();
    if (!row) return undefined;
    const key = toKeyRecord(row);
    if (key.budgetMicros > 0 && (settings.budgetMicros !== undefined || settings.budgetPeriod !== undefined)) {
      await seedKeySpend(trx, db.dialect, keyId, key.budgetPeriod, now);
    }
    return key;
  });
}

export async function findApiKey(db: Db, keyId: string): Promise<KeyRecord | undefined> {
  const row = await db.kysely.selectFrom('api_keys').selectAll().where('id', '=', keyId).executeTakeFirst();
  return row && toKeyRecord(row);
}

export async function listApiKeys(db: Db, accountId: string): Promise<KeyRecord[]> {
  const rows = await db.kysely.selectFrom('api_keys').selectAll().where('account_id', '=', accountId).orderBy('created_at').execute();
  return rows.map(toKeyRecord);
}

function toKeyRecord(r: ApiKeysTable): KeyRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    label: r.label,
    createdAt: Number(r.created_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    ...columnsToSettings(r),
  };
}

export async function revokeApiKey(db: Db, keyId: string, now: number): Promise<boolean> {
  const res = await db.kysely.updateTable('api_keys').set({ revoked_at: now }).where('id', '=', keyId).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

export async function findKeyByHash(db: Db, keyHash: string) {
  return db.kysely
    .selectFrom('api_keys')
    .select([
      'id',
      'account_id',
      'key_hash',
      'revoked_at',
      'allowed_models',
      'allowed_strategies',
      'default_strategy',
      'submit_rpm',
      'status_rpm',
      'max_unfinished',
      'budget_micros',
      'budget_period',
    ])
    .where('key_hash', '=', keyHash)
    .executeTakeFirst();
}

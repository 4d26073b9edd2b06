import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { newShortId } from '../domain/ids.js';
import type { Model, Strategy } from '../domain/models.js';
import type { Db } from './connect.js';
import type { ApiKeysTable, Database } from './schema.js';

export interface AccountRow {
  id: string;
  name: string;
  webhook_secret: string;
  created_at: number;
}

/** What a key may do. Lists are null for "everything"; limits are null for the service default, 0 for unlimited. */
export interface KeySettings {
  models: Model[] | null;
  strategies: Strategy[] | null;
  defaultStrategy: Strategy | null;
  submitRpm: number | null;
  statusRpm: number | null;
  maxUnfinished: number | null;
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
};

type KeyColumns = Pick<ApiKeysTable, 'allowed_models' | 'allowed_strategies' | 'default_strategy' | 'submit_rpm' | 'status_rpm' | 'max_unfinished'>;

function settingsToColumns(s: Partial<KeySettings>): Partial<KeyColumns> {
  const cols: Partial<KeyColumns> = {};
  if (s.models !== undefined) cols.allowed_models = s.models === null ? null : JSON.stringify(s.models);
  if (s.strategies !== undefined) cols.allowed_strategies = s.strategies === null ? null : JSON.stringify(s.strategies);
  if (s.defaultStrategy !== undefined) cols.default_strategy = s.defaultStrategy;
  if (s.submitRpm !== undefined) cols.submit_rpm = s.submitRpm;
  if (s.statusRpm !== undefined) cols.status_rpm = s.statusRpm;
  if (s.maxUnfinished !== undefined) cols.max_unfinished = s.maxUnfinished;
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

/** Changes a key's permissions or limits; takes effect within the auth cache's 1 s. */
export async function updateApiKey(db: Db, keyId: string, settings: Partial<KeySettings>): Promise<boolean> {
  const cols = settingsToColumns(settings);
  if (Object.keys(cols).length === 0) return (await db.kysely.selectFrom('api_keys').select('id').where('id', '=', keyId).executeTakeFirst()) !== undefined;
  const res = await db.kysely.updateTable('api_keys').set(cols).where('id', '=', keyId).executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

export async function listApiKeys(db: Db, accountId: string): Promise<KeyRecord[]> {
  const rows = await db.kysely.selectFrom('api_keys').selectAll().where('account_id', '=', accountId).orderBy('created_at').execute();
  return rows.map((r) => ({ id: r.id, accountId: r.account_id, label: r.label, createdAt: r.created_at, revokedAt: r.revoked_at, ...columnsToSettings(r) }));
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
    ])
    .where('key_hash', '=', keyHash)
    .executeTakeFirst();
}

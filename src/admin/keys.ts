import { createApiKey, findApiKey, type KeyRecord, type KeySettings, listApiKeys, revokeApiKey, updateApiKey } from '../db/accounts-repo.js';
import type { Db } from '../db/connect.js';
import { keySpendNow } from '../db/key-spend-repo.js';
import { BUDGET_PERIODS, isBudgetPeriod } from '../domain/budget.js';
import { MODELS, STRATEGIES, type Strategy } from '../domain/models.js';
import { microsToUsd } from '../domain/money.js';
import type { Clock } from '../services/deps.js';
import { accountNamed } from './accounts.js';
import { allowedList, conflict, fieldsOf, invalid, keyLimit, notFound, type Outcome, ok, optionalText, usdAmount } from './fields.js';

/**
 * API keys as the operator manages them: one implementation behind `longshot keys …` and
 * `/admin/v1/keys`. The key text exists only in the answer to its creation; its SHA-256 is stored.
 */

/** The fields of a key that create and update take (create also takes `account`). */
const KEY_FIELDS = ['label', 'models', 'strategies', 'defaultStrategy', 'submitRpm', 'statusRpm', 'maxUnfinished', 'budgetUsd', 'budgetPeriod'] as const;

type KeyChanges = Partial<KeySettings> & { label?: string | null };

export interface KeyView {
  id: string;
  accountId: string;
  label: string | null;
  state: 'active' | 'revoked';
  createdAt: number;
  revokedAt: number | null;
  models: KeySettings['models'];
  strategies: KeySettings['strategies'];
  defaultStrategy: Strategy | null;
  submitRpm: number | null;
  statusRpm: number | null;
  maxUnfinished: number | null;
  /** 0 = no budget. */
  budgetUsd: number;
  budgetPeriod: KeySettings['budgetPeriod'];
  /** Held + captured by the key's tasks in the current period; null without a budget. */
  budgetSpentUsd: number | null;
}

/** Only the fields given become changes, so an update changes just those. */
function keyChanges(f: Record<string, unknown>): Outcome<KeyChanges> {
  const out: KeyChanges = {};
  if (f.label !== undefined) {
    const label = optionalText(f.label, 'label', 200);
    if (!label.ok) return label;
    out.label = label.value;
  }
  if (f.models !== undefined) {
    const models = allowedList(f.models, 'models', MODELS);
    if (!models.ok) return models;
    out.models = models.value;
  }
  if (f.strategies !== undefined) {
    const strategies = allowedList(f.strategies, 'strategies', STRATEGIES);
    if (!strategies.ok) return strategies;
    out.strategies = strategies.value;
  }
  if (f.defaultStrategy !== undefined) {
    const s = f.defaultStrategy;
    if (s !== null && !(STRATEGIES as readonly unknown[]).includes(s)) {
      return invalid('defaultStrategy', `must be one of ${STRATEGIES.join(', ')}, or null for the default (auto)`);
    }
    out.defaultStrategy = s as Strategy | null;
  }
  for (const name of ['submitRpm', 'statusRpm', 'maxUnfinished'] as const) {
    if (f[name] === undefined) continue;
    const limit = keyLimit(f[name], name);
    if (!limit.ok) return limit;
    out[name] = limit.value;
  }
  if (f.budgetUsd !== undefined) {
    const budget = usdAmount(f.budgetUsd, 'budgetUsd', { positive: false });
    if (!budget.ok) return budget;
    out.budgetMicros = budget.value;
  }
  if (f.budgetPeriod !== undefined) {
    if (!isBudgetPeriod(f.budgetPeriod)) return invalid('budgetPeriod', `must be one of ${BUDGET_PERIODS.join(', ')}`);
    out.budgetPeriod = f.budgetPeriod;
  }
  return ok(out);
}

async function keyView(db: Db, k: KeyRecord, now: number): Promise<KeyView> {
  const spent = k.budgetMicros > 0 ? await keySpendNow(db, k.id, k.budgetPeriod, now) : null;
  return {
    id: k.id,
    accountId: k.accountId,
    label: k.label,
    state: k.revokedAt === null ? 'active' : 'revoked',
    createdAt: k.createdAt,
    revokedAt: k.revokedAt,
    models: k.models,
    strategies: k.strategies,
    defaultStrategy: k.defaultStrategy,
    submitRpm: k.submitRpm,
    statusRpm: k.statusRpm,
    maxUnfinished: k.maxUnfinished,
    budgetUsd: microsToUsd(k.budgetMicros),
    budgetPeriod: k.budgetPeriod,
    budgetSpentUsd: spent === null ? null : microsToUsd(spent),
  };
}

/** `{account, label?, …settings}`: a new key. `key` is its text, returned this once and never stored. */
export async function createKey(db: Db, clock: Clock, body: unknown): Promise<Outcome<KeyView & { account: string; key: string }>> {
  const fields = fieldsOf(body, ['account', ...KEY_FIELDS]);
  if (!fields.ok) return fields;
  if (typeof fields.value.account !== 'string') return invalid('account', 'must name an account (a string)');
  const changes = keyChanges(fields.value);
  if (!changes.ok) return changes;
  const account = await accountNamed(db, fields.value.account, 'account');
  if (!account.ok) return account;
  const { label = null, ...settings } = changes.value;
  const now = clock.now();
  const { id, key } = await createApiKey(db, account.value.id, label, now, settings);
  const created = (await findApiKey(db, id))!;
  return ok({ ...(await keyView(db, created, now)), account: account.value.name, key });
}

/** The account's keys (no key text or hash: only ids, settings and state). */
export async function listKeys(db: Db, clock: Clock, account: unknown): Promise<Outcome<KeyView[]>> {
  if (typeof account !== 'string' || account === '') return invalid('account', 'must name the account whose keys to list');
  const found = await accountNamed(db, account, 'account');
  if (!found.ok) return found;
  const now = clock.now();
  const keys = await listApiKeys(db, found.value.id);
  return ok(await Promise.all(keys.map((k) => keyView(db, k, now))));
}

/** Changes the fields given (at least one); takes effect within 1 s, the auth cache's life. */
export async function updateKey(db: Db, clock: Clock, keyId: string, body: unknown): Promise<Outcome<KeyView>> {
  const fields = fieldsOf(body, KEY_FIELDS);
  if (!fields.ok) return fields;
  if (Object.keys(fields.value).length === 0) return invalid('body', `must change at least one of ${KEY_FIELDS.join(', ')}`);
  const changes = keyChanges(fields.value);
  if (!changes.ok) return changes;
  const now = clock.now();
  const updated = await updateApiKey(db, keyId, changes.value, now);
  return updated ? ok(await keyView(db, updated, now)) : notFound('keyId', `no key ${keyId}`);
}

/** Revokes the key: requests with it are refused within 1 s. 409 when it already is revoked. */
export async function revokeKey(db: Db, clock: Clock, keyId: string): Promise<Outcome<KeyView>> {
  const now = clock.now();
  const revoked = await revokeApiKey(db, keyId, now);
  const key = await findApiKey(db, keyId);
  if (!key) return notFound('keyId', `no key ${keyId}`);
  if (!revoked) return conflict('keyId', `key ${keyId} is already revoked`);
  return ok(await keyView(db, key, now));
}

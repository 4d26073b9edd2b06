import { type AccountRow, addCredit, createAccount, findAccountByName, listAccounts } from '../db/accounts-repo.js';
import type { Db } from '../db/connect.js';
import { getBalance, type LedgerEntry, listLedger } from '../db/ledger-repo.js';
import { microsToUsd } from '../domain/money.js';
import type { Clock } from '../services/deps.js';
import { accountName, conflict, fieldsOf, ledgerPaging, notFound, type Outcome, ok, optionalText, usdAmount } from './fields.js';

/**
 * Accounts as the operator manages them: one implementation behind `longshot accounts …` and
 * `/admin/v1/accounts`. Inputs are JSON-shaped objects (the CLI builds them from its flags) and
 * every refusal is a value (fields.ts).
 */

export interface AccountView {
  id: string;
  name: string;
  createdAt: number;
  availableUsd: number;
  heldUsd: number;
  capturedUsd: number;
  creditedUsd: number;
}

function view(a: { id: string; name: string; created_at: number }, credit: number, held: number, captured: number): AccountView {
  return {
    id: a.id,
    name: a.name,
    createdAt: Number(a.created_at),
    availableUsd: microsToUsd(credit - held - captured),
    heldUsd: microsToUsd(held),
    capturedUsd: microsToUsd(captured),
    creditedUsd: microsToUsd(credit),
  };
}

/** `{name, creditUsd?}`: a new account, with that much initial credit (a ledger entry). 409 for a taken name. */
export async function createAccountAsOperator(db: Db, clock: Clock, body: unknown): Promise<Outcome<AccountView>> {
  const fields = fieldsOf(body, ['name', 'creditUsd']);
  if (!fields.ok) return fields;
  const name = accountName(fields.value.name);
  if (!name.ok) return name;
  const credit = fields.value.creditUsd === undefined ? ok(0) : usdAmount(fields.value.creditUsd, 'creditUsd', { positive: false });
  if (!credit.ok) return credit;
  const taken = () => conflict('name', `an account named ${name.value} already exists`);
  if (await findAccountByName(db, name.value)) return taken();
  try {
    await createAccount(db, name.value, credit.value, clock.now());
  } catch (err) {
    // Created concurrently: the unique name index refused the second one.
    if (await findAccountByName(db, name.value)) return taken();
    throw err;
  }
  return showAccount(db, name.value);
}

export async function listAccountViews(db: Db): Promise<AccountView[]> {
  return (await listAccounts(db)).map((r) => view(r, Number(r.credit_micros), Number(r.held_micros), Number(r.captured_micros)));
}

/** The account named so, or a 404 naming the field it came from. */
export async function accountNamed(db: Db, name: unknown, field = 'name'): Promise<Outcome<AccountRow>> {
  const found = typeof name === 'string' ? await findAccountByName(db, name) : undefined;
  return found ? ok(found) : notFound(field, `no account named ${String(name)}`);
}

export async function showAccount(db: Db, name: unknown): Promise<Outcome<AccountView>> {
  const account = await accountNamed(db, name);
  if (!account.ok) return account;
  const b = (await getBalance(db, account.value.id))!;
  return ok(view(account.value, b.creditMicros, b.heldMicros, b.capturedMicros));
}

/** `{usd, note?}`: tops the account up with an append-only credit entry. */
export async function creditAccount(db: Db, clock: Clock, name: unknown, body: unknown): Promise<Outcome<{ creditedUsd: number; account: AccountView }>> {
  const fields = fieldsOf(body, ['usd', 'note']);
  if (!fields.ok) return fields;
  const micros = usdAmount(fields.value.usd, 'usd', { positive: true });
  if (!micros.ok) return micros;
  const note = fields.value.note === undefined ? ok(null) : optionalText(fields.value.note, 'note', 500);
  if (!note.ok) return note;
  const account = await accountNamed(db, name);
  if (!account.ok) return account;
  await db.writeTx((trx) => addCredit(trx, account.value.id, micros.value, note.value, clock.now()));
  const shown = await showAccount(db, account.value.name);
  return shown.ok ? ok({ creditedUsd: microsToUsd(micros.value), account: shown.value }) : shown;
}

export interface LedgerPage {
  account: AccountRow;
  entries: LedgerEntry[];
  /** The cursor of the next (older) page; null on the last. */
  nextCursor: string | null;
}

/** The account's ledger, newest first; `limit` and `cursor` are query or flag text. */
export async function accountLedger(db: Db, name: unknown, paging: { limit?: unknown; cursor?: unknown }): Promise<Outcome<LedgerPage>> {
  const page = ledgerPaging(paging.limit, paging.cursor);
  if (!page.ok) return page;
  const account = await accountNamed(db, name);
  if (!account.ok) return account;
  const entries = await listLedger(db, account.value.id, page.value);
  const nextCursor = entries.length === page.value.limit ? String(entries[entries.length - 1]!.id) : null;
  return ok({ account: account.value, entries, nextCursor });
}

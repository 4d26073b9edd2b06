import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { addCredit, createAccount, createApiKey, findAccountByName, listAccounts, listApiKeys, revokeApiKey, updateApiKey } from '../db/accounts-repo.js';
import type { Db } from '../db/connect.js';
import { getBalance, listLedger } from '../db/ledger-repo.js';
import { migrateToLatest } from '../db/migrations.js';
import { microsToUsd, parseUsd } from '../domain/money.js';
import { openMigratedDb } from '../main.js';
import { CliError } from './cli-error.js';
import { KEY_OPTIONS, keySettingsFromFlags } from './key-flags.js';

export const ADMIN_HELP: Record<string, string> = {
  migrate: `Usage: longshot migrate\n\nCreates or upgrades the database schema (also done by serve at start).\n`,
  accounts: `Usage:
  longshot accounts create NAME [--credit USD]        create an account, optionally with credit
  longshot accounts list [--json]                      list accounts and balances (USD)
  longshot accounts show NAME [--json]                 available, held and captured (USD)
  longshot accounts credit NAME USD [--note TEXT]      top up (an append-only ledger entry)
`,
  ledger: `Usage: longshot ledger NAME [--limit N] [--json]

The account's ledger entries, newest first: credit, hold, capture, release.
`,
  keys: `Usage:
  longshot keys create --account NAME [options]   create a key; prints only the key
  longshot keys update KEY_ID [options]           change a key's permissions and limits
  longshot keys list --account NAME [--json]      list keys (ids, labels, state, limits)
  longshot keys revoke KEY_ID                     revoke a key

Options (create and update):
  --label TEXT            a name for the key
  --models LIST           models it may use, comma-separated (veo-3-1,veo-3-1-extend); "all"
  --strategies LIST       providers it may use (auto,value,official); "all"
  --default-strategy S    provider for submits that name none (default auto)
  --submit-rpm N          submits per minute (default 60; 0 = unlimited)
  --status-rpm N          status reads per minute (default 600; 0 = unlimited)
  --max-unfinished N      pending + processing tasks at once (default 10; 0 = unlimited)
  Limits take the service defaults (LONGSHOT_SUBMIT_RPM, ...) until set; "default" resets one.
`,
};

export async function runAdmin(cmd: string, args: string[]): Promise<number> {
  const config = loadConfig();
  const db = await openMigratedDb(config);
  try {
    if (cmd === 'migrate') {
      const applied = await migrateToLatest(db.kysely);
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'schema is up to date\n');
      return 0;
    }
    const [sub, ...rest] = args;
    if (cmd === 'accounts' && sub === 'create') return await accountsCreate(db, rest);
    if (cmd === 'accounts' && sub === 'list') return await accountsList(db, rest);
    if (cmd === 'accounts' && sub === 'show') return await accountsShow(db, rest);
    if (cmd === 'accounts' && sub === 'credit') return await accountsCredit(db, rest);
    if (cmd === 'ledger') return await ledger(db, args);
    if (cmd === 'keys' && sub === 'update') return await keysUpdate(db, rest);
    if (cmd === 'keys' && sub === 'create') return await keysCreate(db, rest);
    if (cmd === 'keys' && sub === 'list') return await keysList(db, rest);
    if (cmd === 'keys' && sub === 'revoke') return await keysRevoke(db, rest);
    throw new CliError(`unknown command "${[cmd, sub].filter(Boolean).join(' ')}"; run longshot ${cmd} --help`);
  } finally {
    await db.close();
  }
}

async function accountsCreate(db: Db, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { credit: { type: 'string' } } });
  const name = positionals[0];
  if (!name || positionals.length > 1) throw new CliError('accounts create takes one NAME');
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new CliError('NAME may use letters, digits, _ . - (1-64 characters)');
  const credit = values.credit === undefined ? 0 : parseUsd(values.credit);
  if (credit === null) throw new CliError(`--credit ${values.credit} is not a dollar amount such as 25 or 12.50`);
  if (await findAccountByName(db, name)) throw new CliError(`account ${name} already exists`);
  const account = await createAccount(db, name, credit, Date.now());
  process.stdout.write(`${account.id}\n`);
  return 0;
}

async function accountsList(db: Db, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } } });
  const rows = (await listAccounts(db)).map((r) => ({
    id: r.id,
    name: r.name,
    availableUsd: microsToUsd(Number(r.credit_micros) - Number(r.held_micros) - Number(r.captured_micros)),
    heldUsd: microsToUsd(Number(r.held_micros)),
    capturedUsd: microsToUsd(Number(r.captured_micros)),
  }));
  if (values.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else
    for (const r of rows)
      process.stdout.write(
        `${r.name}\t${r.id}\tavailable $${r.availableUsd.toFixed(2)}\theld $${r.heldUsd.toFixed(2)}\tcaptured $${r.capturedUsd.toFixed(2)}\n`,
      );
  return 0;
}

async function accountByFlag(db: Db, name: string | undefined) {
  if (!name) throw new CliError('an account NAME is required (--account NAME for keys commands)');
  const account = await findAccountByName(db, name);
  if (!account) throw new CliError(`no account named ${name}`);
  return account;
}

async function keysCreate(db: Db, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { account: { type: 'string' }, ...KEY_OPTIONS } });
  const account = await accountByFlag(db, values.account);
  const { id, key } = await createApiKey(db, account.id, values.label ?? null, Date.now(), keySettingsFromFlags(values));
  process.stderr.write(`created key ${id} for ${account.name}; it is shown only now\n`);
  process.stdout.write(`${key}\n`);
  return 0;
}

async function keysList(db: Db, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { account: { type: 'string' }, json: { type: 'boolean' } } });
  const account = await accountByFlag(db, values.account);
  const keys = await listApiKeys(db, account.id);
  if (values.json) process.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
  else
    for (const k of keys) {
      process.stdout.write(`${k.id}\t${k.revokedAt ? 'revoked' : 'active'}\t${new Date(k.createdAt).toISOString()}\t${k.label ?? ''}\n`);
    }
  return 0;
}

async function keysRevoke(db: Db, args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const id = positionals[0];
  if (!id) throw new CliError('keys revoke takes a KEY_ID (see keys list)');
  if (!(await revokeApiKey(db, id, Date.now()))) throw new CliError(`no active key ${id}`);
  process.stdout.write(`revoked ${id}\n`);
  return 0;
}

async function keysUpdate(db: Db, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...KEY_OPTIONS } });
  const id = positionals[0];
  if (!id || positionals.length > 1) throw new CliError('keys update takes one KEY_ID (see keys list)');
  const settings = keySettingsFromFlags(values);
  if (Object.keys(settings).length === 0) throw new CliError('keys update needs at least one option; see longshot keys --help');
  if (!(await updateApiKey(db, id, settings))) throw new CliError(`no key ${id}`);
  process.stdout.write(`updated ${id}\n`);
  return 0;
}

async function accountsShow(db: Db, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
  const account = await accountByFlag(db, positionals[0]);
  const b = (await getBalance(db, account.id))!;
  const view = {
    id: account.id,
    name: account.name,
    availableUsd: microsToUsd(b.availableMicros),
    heldUsd: microsToUsd(b.heldMicros),
    capturedUsd: microsToUsd(b.capturedMicros),
    creditedUsd: microsToUsd(b.creditMicros),
  };
  if (values.json) process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
  else {
    process.stdout.write(
      `${view.name} (${view.id})\n  available $${view.availableUsd.toFixed(2)}\n  held      $${view.heldUsd.toFixed(2)}\n` +
        `  captured  $${view.capturedUsd.toFixed(2)}\n  credited  $${view.creditedUsd.toFixed(2)}\n`,
    );
  }
  return 0;
}

async function accountsCredit(db: Db, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { note: { type: 'string' } } });
  const [name, amount] = positionals;
  if (!name || !amount || positionals.length > 2) throw new CliError('accounts credit takes NAME and a USD amount');
  const micros = parseUsd(amount);
  if (micros === null || micros === 0) throw new CliError(`${amount} is not a positive dollar amount such as 25 or 12.50`);
  const account = await accountByFlag(db, name);
  await db.writeTx((trx) => addCredit(trx, account.id, micros, values.note ?? null, Date.now()));
  const b = (await getBalance(db, account.id))!;
  process.stdout.write(`credited $${microsToUsd(micros).toFixed(2)} to ${account.name}; available $${microsToUsd(b.availableMicros).toFixed(2)}\n`);
  return 0;
}

async function ledger(db: Db, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { limit: { type: 'string' }, json: { type: 'boolean' } } });
  const account = await accountByFlag(db, positionals[0]);
  // Digits only: Number() would also take "0x10", " 5" and "1e1".
  const limit = values.limit === undefined ? 50 : /^\d{1,9}$/.test(values.limit) ? Number(values.limit) : NaN;
  if (!(limit >= 1)) throw new CliError(`--limit ${JSON.stringify(values.limit)} must be a positive whole number in decimal digits, such as 20`);
  const rows = await listLedger(db, account.id, { limit });
  if (values.json)
    process.stdout.write(
      `${JSON.stringify(
        rows.map((r) => ({ ...r, amountUsd: microsToUsd(r.amount_micros) })),
        null,
        2,
      )}\n`,
    );
  else
    for (const r of rows) {
      process.stdout.write(
        `${new Date(r.created_at).toISOString()}\t${r.kind.padEnd(7)}\t$${microsToUsd(r.amount_micros).toFixed(2)}\t${r.task_id ?? ''}\t${r.note ?? ''}\n`,
      );
    }
  return 0;
}

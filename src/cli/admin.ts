import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { openMigratedDb } from '../main.js';
import { migrateToLatest } from '../db/migrations.js';
import {
  createAccount, createApiKey, findAccountByName, listAccounts, listApiKeys, revokeApiKey,
} from '../db/accounts-repo.js';
import { microsToUsd, parseUsd } from '../domain/money.js';
import type { Db } from '../db/connect.js';
import { CliError } from './cli-error.js';

export const ADMIN_HELP: Record<string, string> = {
  migrate: `Usage: longshot migrate\n\nCreates or upgrades the database schema (also done by serve at start).\n`,
  accounts: `Usage:
  longshot accounts create NAME [--credit USD]   create an account, optionally with credit
  longshot accounts list [--json]                 list accounts and balances (USD)
`,
  keys: `Usage:
  longshot keys create --account NAME [--label TEXT]   create a key; prints only the key
  longshot keys list --account NAME [--json]           list keys (ids, labels, state)
  longshot keys revoke KEY_ID                          revoke a key
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
  if (values.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  else for (const r of rows) process.stdout.write(`${r.name}\t${r.id}\tavailable $${r.availableUsd.toFixed(2)}\theld $${r.heldUsd.toFixed(2)}\tcaptured $${r.capturedUsd.toFixed(2)}\n`);
  return 0;
}

async function accountByFlag(db: Db, name: string | undefined) {
  if (!name) throw new CliError('--account NAME is required');
  const account = await findAccountByName(db, name);
  if (!account) throw new CliError(`no account named ${name}`);
  return account;
}

async function keysCreate(db: Db, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { account: { type: 'string' }, label: { type: 'string' } } });
  const account = await accountByFlag(db, values.account);
  const { id, key } = await createApiKey(db, account.id, values.label ?? null, Date.now());
  process.stderr.write(`created key ${id} for ${account.name}; it is shown only now\n`);
  process.stdout.write(`${key}\n`);
  return 0;
}

async function keysList(db: Db, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { account: { type: 'string' }, json: { type: 'boolean' } } });
  const account = await accountByFlag(db, values.account);
  const keys = await listApiKeys(db, account.id);
  if (values.json) process.stdout.write(JSON.stringify(keys, null, 2) + '\n');
  else for (const k of keys) {
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

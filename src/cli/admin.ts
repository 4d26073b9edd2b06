import { parseArgs } from 'node:util';
import { accountLedger, createAccountAsOperator, creditAccount, listAccountViews, showAccount } from '../admin/accounts.js';
import { rotateAdminToken } from '../admin/admin-token.js';
import type { Outcome } from '../admin/fields.js';
import { createKey, listKeys, revokeKey, updateKey } from '../admin/keys.js';
import { type Config, loadConfig } from '../config.js';
import type { Db } from '../db/connect.js';
import { migrateToLatest } from '../db/migrations.js';
import { microsToUsd } from '../domain/money.js';
import { openMigratedDb } from '../main.js';
import { type Clock, systemClock } from '../services/deps.js';
import { CliError } from './cli-error.js';
import { flagNumber, KEY_OPTIONS, keyFieldsFromFlags, refusalError } from './key-flags.js';

/**
 * The operator commands on accounts, keys, the ledger and the admin token. Each one parses its
 * flags into the admin API's fields and calls the same service as `/admin/v1` (src/admin/), so the
 * rules and refusals are one; this file only prints.
 */

export const ADMIN_HELP: Record<string, string> = {
  migrate: `Usage: longshot migrate\n\nCreates or upgrades the database schema (also done by serve at start).\n`,
  accounts: `Usage:
  longshot accounts create NAME [--credit USD]        create an account, optionally with credit
  longshot accounts list [--json]                      list accounts and balances (USD)
  longshot accounts show NAME [--json]                 available, held and captured (USD)
  longshot accounts credit NAME USD [--note TEXT]      top up (an append-only ledger entry)
`,
  ledger: `Usage: longshot ledger NAME [--limit N] [--json]

The account's ledger entries, newest first: credit, hold, capture, release (50 unless --limit,
at most 1000).
`,
  keys: `Usage:
  longshot keys create --account NAME [options]   create a key; prints only the key
  longshot keys update KEY_ID [options]           change a key's permissions, limits and budget
  longshot keys list --account NAME [--json]      list keys (ids, labels, state, limits, budget)
  longshot keys revoke KEY_ID                     revoke a key

Options (create and update):
  --label TEXT            a name for the key
  --models LIST           models it may use, comma-separated (veo-3-1,veo-3-1-extend); "all"
  --strategies LIST       providers it may use (auto,value,official); "all"
  --default-strategy S    provider for submits that name none (default auto)
  --submit-rpm N          submits per minute (default 60; 0 = unlimited)
  --status-rpm N          status reads per minute (default 600; 0 = unlimited)
  --max-unfinished N      pending + processing tasks at once (default 10; 0 = unlimited)
  --budget-usd USD        what the key's tasks may hold or capture per period (0 = no budget);
                          a submit past it answers 402
  --budget-period P       day or month: the UTC day or calendar month the budget renews with
                          (default day)
  Limits take the service defaults (LONGSHOT_SUBMIT_RPM, ...) until set; "default" resets one.
`,
  admin: `Usage: longshot admin token --rotate

Makes a new admin token (for /admin/v1) and prints it once; only its hash is stored. Running
servers accept it, and refuse the old one, within 5 s. Not available while LONGSHOT_ADMIN_TOKEN
sets the token: change that variable instead.
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
    const clock = systemClock;
    if (cmd === 'accounts' && sub === 'create') return await accountsCreate(db, clock, rest);
    if (cmd === 'accounts' && sub === 'list') return await accountsList(db, rest);
    if (cmd === 'accounts' && sub === 'show') return await accountsShow(db, rest);
    if (cmd === 'accounts' && sub === 'credit') return await accountsCredit(db, clock, rest);
    if (cmd === 'ledger') return await ledger(db, args);
    if (cmd === 'keys' && sub === 'update') return await keysUpdate(db, clock, rest);
    if (cmd === 'keys' && sub === 'create') return await keysCreate(db, clock, rest);
    if (cmd === 'keys' && sub === 'list') return await keysList(db, clock, rest);
    if (cmd === 'keys' && sub === 'revoke') return await keysRevoke(db, clock, rest);
    if (cmd === 'admin' && sub === 'token') return await adminToken(db, config, rest);
    throw new CliError(`unknown command "${[cmd, sub].filter(Boolean).join(' ')}"; run longshot ${cmd} --help`);
  } catch (err) {
    // An unknown option or a missing value is a usage error (exit 2), not a fault.
    if (String((err as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS')) throw new CliError((err as Error).message);
    throw err;
  } finally {
    await db.close();
  }
}

/** The value, or the refusal as a usage error (exit 2) naming the flag. */
function answered<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw refusalError(outcome);
  return outcome.value;
}

const usd = (n: number) => `$${n.toFixed(2)}`;
const json = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

async function accountsCreate(db: Db, clock: Clock, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { credit: { type: 'string' } } });
  if (positionals.length !== 1) throw new CliError('accounts create takes one NAME');
  const body = { name: positionals[0], ...(values.credit === undefined ? {} : { creditUsd: flagNumber(values.credit) }) };
  const account = answered(await createAccountAsOperator(db, clock, body));
  process.stdout.write(`${account.id}\n`);
  return 0;
}

async function accountsList(db: Db, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } } });
  const rows = await listAccountViews(db);
  if (values.json) json(rows);
  else
    for (const r of rows)
      process.stdout.write(`${r.name}\t${r.id}\tavailable ${usd(r.availableUsd)}\theld ${usd(r.heldUsd)}\tcaptured ${usd(r.capturedUsd)}\n`);
  return 0;
}

async function accountsShow(db: Db, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
  if (positionals.length !== 1) throw new CliError('accounts show takes one NAME');
  const view = answered(await showAccount(db, positionals[0]));
  if (values.json) json(view);
  else {
    process.stdout.write(
      `${view.name} (${view.id})\n  available ${usd(view.availableUsd)}\n  held      ${usd(view.heldUsd)}\n` +
        `  captured  ${usd(view.capturedUsd)}\n  credited  ${usd(view.creditedUsd)}\n`,
    );
  }
  return 0;
}

async function accountsCredit(db: Db, clock: Clock, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { note: { type: 'string' } } });
  const [name, amount] = positionals;
  if (!name || !amount || positionals.length > 2) throw new CliError('accounts credit takes NAME and a USD amount');
  const body = { usd: flagNumber(amount), ...(values.note === undefined ? {} : { note: values.note }) };
  const done = answered(await creditAccount(db, clock, name, body));
  process.stdout.write(`credited ${usd(done.creditedUsd)} to ${done.account.name}; available ${usd(done.account.availableUsd)}\n`);
  return 0;
}

async function ledger(db: Db, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { limit: { type: 'string' }, json: { type: 'boolean' } } });
  if (positionals.length !== 1) throw new CliError('ledger takes one account NAME');
  const page = answered(await accountLedger(db, positionals[0], { limit: values.limit }));
  if (values.json) json(page.entries.map((r) => ({ ...r, amountUsd: microsToUsd(r.amount_micros) })));
  else
    for (const r of page.entries) {
      process.stdout.write(
        `${new Date(r.created_at).toISOString()}\t${r.kind.padEnd(7)}\t${usd(microsToUsd(r.amount_micros))}\t${r.task_id ?? ''}\t${r.note ?? ''}\n`,
      );
    }
  return 0;
}

async function keysCreate(db: Db, clock: Clock, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { account: { type: 'string' }, ...KEY_OPTIONS } });
  if (values.account === undefined) throw new CliError('keys create needs --account NAME');
  const created = answered(await createKey(db, clock, { account: values.account, ...keyFieldsFromFlags(values) }));
  process.stderr.write(`created key ${created.id} for ${created.account}; it is shown only now\n`);
  process.stdout.write(`${created.key}\n`);
  return 0;
}

async function keysList(db: Db, clock: Clock, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { account: { type: 'string' }, json: { type: 'boolean' } } });
  if (values.account === undefined) throw new CliError('keys list needs --account NAME');
  const keys = answered(await listKeys(db, clock, values.account));
  if (values.json) json(keys);
  else for (const k of keys) process.stdout.write(`${k.id}\t${k.state}\t${new Date(k.createdAt).toISOString()}\t${k.label ?? ''}\n`);
  return 0;
}

async function keysUpdate(db: Db, clock: Clock, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...KEY_OPTIONS } });
  const id = positionals[0];
  if (!id || positionals.length > 1) throw new CliError('keys update takes one KEY_ID (see keys list)');
  answered(await updateKey(db, clock, id, keyFieldsFromFlags(values)));
  process.stdout.write(`updated ${id}\n`);
  return 0;
}

async function keysRevoke(db: Db, clock: Clock, args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const id = positionals[0];
  if (!id || positionals.length > 1) throw new CliError('keys revoke takes one KEY_ID (see keys list)');
  answered(await revokeKey(db, clock, id));
  process.stdout.write(`revoked ${id}\n`);
  return 0;
}

async function adminToken(db: Db, config: Config, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { rotate: { type: 'boolean' } } });
  if (!values.rotate) throw new CliError('the admin token is stored only as its hash and cannot be shown; longshot admin token --rotate makes a new one');
  if (config.adminToken !== null) throw new CliError('LONGSHOT_ADMIN_TOKEN sets the admin token; change that variable (and restart) instead of rotating');
  const token = await rotateAdminToken(db);
  process.stderr.write('new admin token, shown only now; running servers accept it (and refuse the old one) within 5 s\n');
  process.stdout.write(`${token}\n`);
  return 0;
}

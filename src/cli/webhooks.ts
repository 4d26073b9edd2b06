import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { findAccountByName } from '../db/accounts-repo.js';
import type { Db } from '../db/connect.js';
import { expirePreviousSecret, getWebhookSecrets, rotateWebhookSecret } from '../db/webhook-secrets-repo.js';
import { openMigratedDb } from '../main.js';
import { redeliverTask, taskDeliveries } from '../services/webhook-deliveries.js';
import { parseDuration } from '../webhooks/schedule.js';
import { newWebhookSecret } from '../webhooks/sign.js';
import { CliError } from './cli-error.js';

/** How long a rotated-out secret keeps signing unless --overlap or --expire-old say otherwise. */
const DEFAULT_OVERLAP = '24h';

export const WEBHOOKS_HELP = `Usage:
  longshot webhooks secret --account NAME                 print the account's signing secret
  longshot webhooks rotate --account NAME [--overlap 24h] new secret; the old one keeps signing
                                                          beside it for the overlap (default 24h)
  longshot webhooks rotate --account NAME --expire-old    end the overlap now: only the new
                                                          secret signs from here on
  longshot webhooks deliveries TASK_ID [--json]           a task's deliveries and their attempts
  longshot webhooks redeliver TASK_ID                     send a finished task's webhook again
                                                          (a new webhook-id; a running server sends it)
`;

/** Where the command reads settings and writes; tests pass their own. */
export interface CliIo {
  env: Record<string, string | undefined>;
  out(text: string): void;
  err(text: string): void;
}

const processIo: CliIo = {
  env: process.env,
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

export async function runWebhooks(args: string[], io: CliIo = processIo): Promise<number> {
  const [sub, ...rest] = args;
  const db = await openMigratedDb(loadConfig(io.env));
  try {
    if (sub === 'secret') return await secret(db, rest, io);
    if (sub === 'rotate') return await rotate(db, rest, io);
    if (sub === 'deliveries') return await deliveries(db, rest, io);
    if (sub === 'redeliver') return await redeliver(db, rest, io);
    throw new CliError(`unknown command "webhooks${sub ? ` ${sub}` : ''}"; run longshot webhooks --help`);
  } finally {
    await db.close();
  }
}

async function account(db: Db, name: string | undefined) {
  if (!name) throw new CliError('--account NAME is required');
  const found = await findAccountByName(db, name);
  if (!found) throw new CliError(`no account named ${name}`);
  return found;
}

async function secret(db: Db, args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args, options: { account: { type: 'string' } } });
  const acc = await account(db, values.account);
  const s = (await getWebhookSecrets(db, acc.id, Date.now()))!;
  if (s.previousExpiresAt !== null) {
    io.err(`the previous secret also signs until ${new Date(s.previousExpiresAt).toISOString()} (rotation overlap)\n`);
  }
  io.out(`${s.current}\n`);
  return 0;
}

async function rotate(db: Db, args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args, options: { account: { type: 'string' }, overlap: { type: 'string' }, 'expire-old': { type: 'boolean' } } });
  const acc = await account(db, values.account);
  if (values['expire-old']) {
    if (values.overlap !== undefined) throw new CliError('--expire-old and --overlap cannot be combined');
    const ended = await expirePreviousSecret(db, acc.id);
    io.err(ended ? `the previous secret of ${acc.name} no longer signs\n` : `${acc.name} has no previous secret in use\n`);
    return 0;
  }
  const overlapText = values.overlap ?? DEFAULT_OVERLAP;
  const overlapMs = overlapText === '0' ? 0 : parseDuration(overlapText);
  if (overlapMs === null || overlapMs > 30 * 86_400_000) throw new CliError(`--overlap ${overlapText} is not a duration such as 24h, 90m or 0 (at most 30d)`);
  const next = newWebhookSecret();
  const now = Date.now();
  await rotateWebhookSecret(db, acc.id, next, now, overlapMs);
  io.err(
    overlapMs > 0
      ? `rotated; deliveries carry both signatures until ${new Date(now + overlapMs).toISOString()} (end sooner with --expire-old)\n`
      : 'rotated; only the new secret signs from now on\n',
  );
  io.out(`${next}\n`);
  return 0;
}

async function deliveries(db: Db, args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
  const taskId = positionals[0];
  if (!taskId || positionals.length > 1) throw new CliError('webhooks deliveries takes one TASK_ID');
  const out = await taskDeliveries(db, null, taskId);
  if (!out.ok) throw new CliError(out.error);
  if (values.json) {
    io.out(`${JSON.stringify(out.deliveries, null, 2)}\n`);
    return 0;
  }
  if (out.deliveries.length === 0) io.out(`task ${taskId} has no webhook deliveries\n`);
  const iso = (t: number | null) => (t === null ? '-' : new Date(t).toISOString());
  for (const d of out.deliveries) {
    io.out(`${d.webhookId}\t${d.state}\t${d.trigger}\t${d.url}\tnext ${iso(d.nextAttemptTime)}\n`);
    for (const a of d.attempts) {
      io.out(`  #${a.attempt}\t${iso(a.time)}\t${a.statusCode ?? '-'}\t${a.durationMs} ms\t${a.state}\t${a.error ?? ''}\n`);
    }
  }
  return 0;
}

async function redeliver(db: Db, args: string[], io: CliIo): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const taskId = positionals[0];
  if (!taskId || positionals.length > 1) throw new CliError('webhooks redeliver takes one TASK_ID');
  const out = await redeliverTask(db, null, taskId, Date.now());
  if (!out.ok) throw new CliError(out.error);
  io.err('queued; a running server sends it within a second or two\n');
  io.out(`${out.webhookId}\n`);
  return 0;
}

import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { findAccountByName } from '../db/accounts-repo.js';
import type { Db } from '../db/connect.js';
import { urlSigningKey } from '../db/settings-repo.js';
import { accountNames } from '../db/task-list-repo.js';
import { getTaskById } from '../db/tasks-repo.js';
import { getUpstream } from '../db/upstream-repo.js';
import { openMigratedDb } from '../main.js';
import { taskLineage } from '../services/task-lineage.js';
import { type Invalid, listTasks, parseCursor, parseLimit, parseModel, parseState } from '../services/task-list.js';
import { operatorUsage, parseDayRange } from '../services/usage.js';
import { createUrlSigner } from '../storage/url-signer.js';
import { CliError } from './cli-error.js';
import type { CliIo } from './webhooks.js';

const processIo: CliIo = {
  env: process.env,
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

export const TASKS_HELP = `Usage:
  longshot tasks show TASK_ID [--json]
  longshot tasks lineage TASK_ID [--json]
  longshot tasks list [--account NAME] [--state S] [--model M] [--limit N] [--cursor C] [--json]

show: operator view of one task, read from the database: its state, the strategy asked for, the
engine that served it (local, gemini, ...), attempts, times, fail code, and the upstream job
reference and video handle an upstream engine saved (docs/gemini.md).

lineage: the extension tree the task belongs to, from its root generation down every branch,
one task a line, indented under the task it extends (GET /api/v1/tasks/{taskId}/lineage; --json
prints that route's data, URLs signed for LONGSHOT_PUBLIC_URL).

list: tasks of every account (or of --account), newest first: --state pending, processing,
success or failed; --model veo-3-1 or veo-3-1-extend; --limit 1-1000 (default 20). When more
remain, stderr names the --cursor of the next page.
`;

export const USAGE_HELP = `Usage: longshot usage [--account NAME] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--json]

Usage per UTC day, account, model and engine: tasks submitted, succeeded and failed, seconds of
video made and USD spent (captured holds; failed tasks cost nothing), and the totals. The days
are inclusive: the last 30 up to today unless --from and --to say otherwise (at most 366).
`;

/** The operator may page further than a client at once. */
const CLI_MAX_LIMIT = 1000;

const time = (ms: number | string | null): string | null => (ms === null ? null : new Date(Number(ms)).toISOString());

/** The services' sentences name the HTTP parameter; here the flag is what the operator typed. */
const flagged = (v: Invalid): CliError => new CliError(v.error.startsWith(v.field) ? `--${v.error}` : v.error);

function orFail<T>(v: T | Invalid): T {
  if (typeof v === 'object' && v !== null && (v as Invalid).ok === false) throw flagged(v as Invalid);
  return v as T;
}

async function withDb<T>(io: CliIo, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await openMigratedDb(loadConfig(io.env));
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

async function accountId(db: Db, name: string | undefined): Promise<string | undefined> {
  if (name === undefined) return undefined;
  const account = await findAccountByName(db, name);
  if (!account) throw new CliError(`no account named ${name}`);
  return account.id;
}

export async function runTasks(args: string[], io: CliIo = processIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'show') return show(rest, io);
  if (sub === 'list') return list(rest, io);
  if (sub === 'lineage') return lineage(rest, io);
  throw new CliError(`unknown command "tasks ${sub ?? ''}"; run longshot tasks --help`);
}

async function list(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      account: { type: 'string' },
      state: { type: 'string' },
      model: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const state = orFail(parseState(values.state));
  const model = orFail(parseModel(values.model));
  const limit = orFail(parseLimit(values.limit, CLI_MAX_LIMIT));
  // The same keyset as the API's: a cursor printed here works there, and the other way round.
  const beforeId = orFail(parseCursor(values.cursor));
  return withDb(io, async (db) => {
    const account = await accountId(db, values.account);
    const page = await listTasks(db, {
      limit,
      ...(beforeId ? { beforeId } : {}),
      ...(state ? { state } : {}),
      ...(model ? { model } : {}),
      ...(account ? { accountId: account } : {}),
    });
    const names = await accountNames(db, [...new Set(page.rows.map((r) => r.account_id))]);
    const tasks = page.rows.map((r) => ({
      taskId: r.id,
      model: r.model,
      state: r.state,
      account: names.get(r.account_id) ?? r.account_id,
      keyId: r.api_key_id,
      provider: r.provider,
      engine: r.engine,
      attempts: Number(r.attempts),
      createTime: time(r.create_time),
      completeTime: time(r.complete_time),
      failCode: r.fail_code,
      sourceTaskId: r.source_task_id,
    }));
    if (values.json) io.out(`${JSON.stringify({ tasks, nextCursor: page.nextCursor }, null, 2)}\n`);
    else {
      for (const t of tasks) {
        io.out(`${t.createTime}\t${t.taskId}\t${t.model.padEnd(14)}\t${t.state.padEnd(10)}\t${t.account}\t${t.engine ?? '-'}\t${t.failCode ?? ''}\n`);
      }
      if (page.nextCursor) io.err(`more: add --cursor ${page.nextCursor}\n`);
    }
    return 0;
  });
}

export async function runUsage(args: string[], io: CliIo = processIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { account: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, json: { type: 'boolean' } },
  });
  if (positionals.length) throw new CliError(`usage takes no arguments (${positionals[0]}); run longshot usage --help`);
  const range = parseDayRange(values.from, values.to, Date.now());
  if (!range.ok) throw flagged(range);
  return withDb(io, async (db) => {
    const report = await operatorUsage(db, range.range, await accountId(db, values.account));
    if (values.json) {
      io.out(`${JSON.stringify(report, null, 2)}\n`);
      return 0;
    }
    io.out(`usage ${report.from} .. ${report.to} (UTC)\n`);
    io.out('date\taccount\tmodel\tengine\ttasks\tsucceeded\tfailed\tvideo s\tspent\n');
    for (const r of report.rows) {
      io.out(
        `${r.date}\t${r.accountName ?? r.accountId}\t${r.model}\t${r.engine ?? '-'}\t${r.tasks}\t${r.succeeded}\t${r.failed}\t${r.videoSeconds}\t$${r.spentUsd.toFixed(2)}\n`,
      );
    }
    const t = report.totals;
    io.out(`total\t\t\t\t${t.tasks}\t${t.succeeded}\t${t.failed}\t${t.videoSeconds}\t$${t.spentUsd.toFixed(2)}\n`);
    return 0;
  });
}

async function show(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
  const id = positionals[0];
  if (!id || positionals.length > 1) throw new CliError('tasks show takes one TASK_ID');
  return withDb(io, async (db) => {
    const task = await getTaskById(db, id);
    if (!task) throw new CliError(`no task ${id}`);
    const up = await getUpstream(db, id);
    const view = {
      taskId: task.id,
      model: task.model,
      state: task.state,
      provider: task.provider,
      engine: task.engine,
      attempts: task.attempts,
      accountId: task.account_id,
      sourceTaskId: task.source_task_id,
      createTime: time(task.create_time),
      startTime: time(task.start_time),
      completeTime: time(task.complete_time),
      failCode: task.fail_code,
      failMsg: task.fail_msg,
      result: task.result_key,
      durationMs: task.duration_ms === null ? null : Number(task.duration_ms),
      upstream: up
        ? {
            engine: up.engine,
            ref: up.ref,
            video: up.video,
            updatedAt: time(up.updated_at),
            lateOutcome: up.late_outcome === null ? null : { outcome: up.late_outcome, at: time(up.late_outcome_at) },
          }
        : null,
    };
    if (values.json) {
      io.out(`${JSON.stringify(view, null, 2)}\n`);
      return 0;
    }
    for (const [key, value] of Object.entries(view)) {
      if (key === 'upstream') continue;
      if (value !== null) io.out(`${key.padEnd(14)}${String(value)}\n`);
    }
    if (up) {
      io.out(`${'upstream'.padEnd(14)}${up.engine}\n`);
      if (up.ref) io.out(`${'  job'.padEnd(14)}${up.ref}\n`);
      if (up.video) io.out(`${'  video'.padEnd(14)}${up.video}\n`);
      // A job given up on that finished anyway (docs/operations.md, unknown upstream outcomes).
      if (up.late_outcome) io.out(`${'  late'.padEnd(14)}${up.late_outcome} after the timeout, at ${time(up.late_outcome_at)}\n`);
    }
    return 0;
  });
}

async function lineage(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
  const id = positionals[0];
  if (!id || positionals.length > 1) throw new CliError('tasks lineage takes one TASK_ID');
  const config = loadConfig(io.env);
  return withDb(io, async (db) => {
    const task = await getTaskById(db, id);
    if (!task) throw new CliError(`no task ${id}`);
    const deps = { db, signer: createUrlSigner(await urlSigningKey(db)), publicUrl: config.publicUrl ?? '', config };
    // The operator reads every task of the tree, whatever a key could.
    const tree = await taskLineage(deps, { accountId: task.account_id, settings: null }, id, Date.now());
    if (values.json) {
      io.out(`${JSON.stringify(tree, null, 2)}\n`);
      return 0;
    }
    // Depth first for the eye: each task, then its extensions (the data is breadth first).
    const children = new Map<string | null, typeof tree.nodes>();
    for (const n of tree.nodes) children.set(n.parentTaskId, [...(children.get(n.parentTaskId) ?? []), n]);
    const ordered: typeof tree.nodes = [];
    const visit = (n: (typeof tree.nodes)[number]) => {
      ordered.push(n);
      for (const c of children.get(n.taskId) ?? []) visit(c);
    };
    for (const root of tree.nodes.filter((n) => n.parentTaskId === null)) visit(root);
    for (const n of ordered) {
      const what = [n.taskId, n.model, n.state, n.durationSeconds === null ? null : `${n.durationSeconds} s`, n.failCode, n.deleted ? 'deleted' : null];
      const mark = n.taskId === id ? ' <' : '';
      io.out(`${'  '.repeat(n.depth)}${what.filter((w) => w !== null).join('  ')}  ${JSON.stringify(n.prompt ?? '')}${mark}\n`);
    }
    if (tree.truncated) io.err(`truncated: the tree has more than ${tree.nodes.length} tasks\n`);
    return 0;
  });
}

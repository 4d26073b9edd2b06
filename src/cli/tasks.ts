import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { getTaskById } from '../db/tasks-repo.js';
import { getUpstream } from '../db/upstream-repo.js';
import { openMigratedDb } from '../main.js';
import { CliError } from './cli-error.js';
import type { CliIo } from './webhooks.js';

const processIo: CliIo = {
  env: process.env,
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

export const TASKS_HELP = `Usage: longshot tasks show TASK_ID [--json]

Operator view of one task, read from the database: its state, the strategy asked for, the
engine that served it (local, gemini, ...), attempts, times, fail code, and the upstream job
reference and video handle an upstream engine saved (docs/gemini.md).
`;

const time = (ms: number | string | null): string | null => (ms === null ? null : new Date(Number(ms)).toISOString());

export async function runTasks(args: string[], io: CliIo = processIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'show') throw new CliError(`unknown command "tasks ${sub ?? ''}"; run longshot tasks --help`);
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { json: { type: 'boolean' } } });
  const id = positionals[0];
  if (!id || positionals.length > 1) throw new CliError('tasks show takes one TASK_ID');
  const db = await openMigratedDb(loadConfig(io.env));
  try {
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
      upstream: up ? { engine: up.engine, ref: up.ref, video: up.video, updatedAt: time(up.updated_at) } : null,
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
    }
    return 0;
  } finally {
    await db.close();
  }
}

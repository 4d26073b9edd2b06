#!/usr/bin/env node
import { ConfigError } from '../config.js';
import { CliError } from './cli-error.js';

const HELP = `longshot — self-hosted, APIXO-compatible video generation API

Usage: longshot <command> [options]

Commands:
  serve [--role R]           run the API and workers (R: all, api or worker)
  migrate                    bring the database schema up to date
  accounts create NAME       create an account [--credit USD]
  accounts list              list accounts with their balances
  accounts show NAME         an account's available, held and captured balance
  accounts credit NAME USD   top up an account [--note TEXT]
  ledger NAME                an account's ledger entries, newest first
  keys create --account NAME create an API key; prints only the key
  keys update KEY_ID         change a key's permissions and limits
  keys list --account NAME   list an account's keys
  keys revoke KEY_ID         revoke a key (takes effect within 1 s)
  admin token --rotate       make a new admin token (/admin/v1); printed once
  tasks show TASK_ID         a task's state, strategy, serving engine and upstream job
  tasks lineage TASK_ID      the extension tree of a task: root, extensions and branches
  tasks list                 tasks newest first [--account NAME --state S --model M --limit N]
  usage                      usage per day, account, model and engine [--account --from --to]
  engines [--check]          engine instances, their health, breaker and last hour
  webhooks secret|rotate --account NAME   show or rotate the webhook signing secret
  webhooks deliveries|redeliver TASK_ID   a task's webhook log, or send it again

Creator commands (talk to a running service over HTTP; see docs/cli.md):
  generate "PROMPT"          submit a veo-3-1 task [--mode --aspect --type --image
                             --seed --watermark --wait --out FILE --json]
  extend TASK_ID "PROMPT"    continue a finished task by 7 s [--mode --wait --out --json]
  status TASK_ID             a task's state and result URL [--model --wait --json]
  balance                    the key's available balance in USD
  mcp                        an MCP server over stdio for agents (docs/mcp.md)

Run "longshot <command> --help" for a command's options. Settings come from the
environment (LONGSHOT_DATA_DIR, LONGSHOT_PORT, ...; see README.md); the creator commands
use LONGSHOT_BASE_URL and LONGSHOT_API_KEY.
`;

/**
 * `longshot ledger NAME | head` closes the pipe once it has its lines: that is the reader's
 * choice, not an error, so every command ends quietly then. `serve` keeps serving: its banner
 * is all it writes to stdout.
 */
function quietOnClosedStdout(cmd: string | undefined): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    if (cmd !== 'serve') process.exit(process.exitCode ?? 0);
  });
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  quietOnClosedStdout(cmd);
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(HELP);
    return cmd ? 0 : 1;
  }
  // Commands load their modules on demand: the creator commands need no database driver.
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  if (cmd === 'serve') {
    const { runServe, SERVE_HELP } = await import('./serve.js');
    return wantsHelp ? print(SERVE_HELP) : runServe(rest);
  }
  if (cmd === 'migrate' || cmd === 'accounts' || cmd === 'keys' || cmd === 'ledger' || cmd === 'admin') {
    const { runAdmin, ADMIN_HELP } = await import('./admin.js');
    return wantsHelp ? print(ADMIN_HELP[cmd] ?? HELP) : runAdmin(cmd, rest);
  }
  if (cmd === 'tasks') {
    const { runTasks, TASKS_HELP } = await import('./tasks.js');
    return rest.length === 0 || wantsHelp ? print(TASKS_HELP) : runTasks(rest);
  }
  if (cmd === 'usage') {
    const { runUsage, USAGE_HELP } = await import('./tasks.js');
    return wantsHelp ? print(USAGE_HELP) : runUsage(rest);
  }
  if (cmd === 'engines') {
    const { runEngines, ENGINES_HELP } = await import('./engines.js');
    return wantsHelp ? print(ENGINES_HELP) : runEngines(rest);
  }
  if (cmd === 'webhooks') {
    const { runWebhooks, WEBHOOKS_HELP } = await import('./webhooks.js');
    return rest.length === 0 || wantsHelp ? print(WEBHOOKS_HELP) : runWebhooks(rest);
  }
  if (cmd === 'mcp') {
    const { runMcp, MCP_HELP } = await import('./mcp.js');
    return wantsHelp ? print(MCP_HELP) : runMcp(rest);
  }
  const { CREATOR_COMMANDS, CREATOR_HELP, runCreator } = await import('./creator.js');
  if (CREATOR_COMMANDS.has(cmd)) return wantsHelp ? print(CREATOR_HELP[cmd] ?? HELP) : runCreator(cmd, rest);
  throw new CliError(`unknown command "${cmd}"; run longshot --help`);
}

function print(text: string): number {
  process.stdout.write(text);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof CliError || err instanceof ConfigError) {
      process.stderr.write(`longshot: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`longshot: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);

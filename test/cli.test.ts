import { spawn } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from './support/built-cli.js';
import { startTestService, type TestService } from './support/service.js';

/**
 * The creator commands as a user runs them: the compiled CLI in a child process against a real
 * service on loopback, piped (lines, --json) and in a pseudo-terminal (util-linux `script`).
 * The sources are compiled into a private directory first, so the test never runs a stale dist/.
 */
let cli = '';

let t: TestService;
let env: Record<string, string>;

beforeAll(async () => {
  const [service, built] = await Promise.all([startTestService(), buildCli('longshot-cli-test')]);
  t = service;
  cli = built;
  env = { ...process.env, LONGSHOT_BASE_URL: `${t.url}/api/v1`, LONGSHOT_API_KEY: t.key, NO_COLOR: '' } as Record<string, string>;
}, 90_000);
afterAll(() => t?.close());

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Runs the CLI as `longshot … | head` does once it has its lines: the reader has closed the pipe before the first write. */
function runIntoClosedPipe(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: '', stderr }));
  });
}

/** The operator commands work on the service's data directory (and its database). */
const adminEnv = (): Record<string, string> => ({ LONGSHOT_DATA_DIR: t.dataDir, DATABASE_URL: t.config.databaseUrl ?? '', LONGSHOT_LOG_LEVEL: 'error' });

/** Runs the CLI with stdout on a pseudo-terminal: `script` gives it a TTY and copies what it draws. */
function runInTerminal(args: string[]): Promise<Run> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, cli, ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr: '' }));
  });
}

/** A loopback port nobody listens on (fetch refuses "bad ports" such as 9 before connecting). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function isMp4(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(8);
    await fh.read(buf, 0, 8, 0);
    return buf.subarray(4, 8).toString('latin1') === 'ftyp';
  } finally {
    await fh.close();
  }
}

describe('longshot creator commands', () => {
  let sourceId = '';
  let extendId = '';

  it('generate --wait --out, piped: one line per state, then the result', async () => {
    const out = join(t.dataDir, 'cli', 'clip.mp4');
    await mkdir(join(t.dataDir, 'cli'), { recursive: true });
    const r = await run(['generate', 'a calm ocean at sunset', '--mode', 'fast', '--seed', '5', '--wait', '--out', out, '--poll-interval', '0.25']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const submitted = /^submitted veo-3-1 task ([0-9a-f]{32})$/.exec(lines[0]!);
    expect(submitted, r.stdout).not.toBeNull();
    sourceId = submitted![1]!;
    // `[m:ss] STATE`, then what is known of `42%`, `queue 3`, `eta 0:05` (src/cli/progress.ts).
    const shown = lines.flatMap((l) => {
      const m = /^\[\d+:\d\d\] (\w+)(?: (\d+)%)?(?:\s+queue (\d+))?(?:\s+eta \d+:\d\d)?$/.exec(l);
      return m ? [{ state: m[1]!, progress: m[2] === undefined ? undefined : Number(m[2]), queue: m[3] }] : [];
    });
    expect(shown.at(-1)?.state, r.stdout).toBe('success');
    // A line per change of state, queue position or ten percent, not per poll.
    const key = (x: (typeof shown)[number]) => `${x.state}|${x.queue}|${x.progress === undefined ? '' : Math.floor(x.progress / 10)}`;
    for (let i = 1; i < shown.length; i++) expect(key(shown[i]!), r.stdout).not.toBe(key(shown[i - 1]!));
    const states = shown.map((x) => x.state).filter((s, i, all) => s !== all[i - 1]);
    expect(new Set(states).size, r.stdout).toBe(states.length); // each state once, in one run of lines
    const percents = shown.flatMap((x) => (x.progress === undefined ? [] : [x.progress]));
    for (let i = 1; i < percents.length; i++) expect(percents[i]).toBeGreaterThanOrEqual(percents[i - 1]!);
    expect(r.stdout).toMatch(new RegExp(`^result ${t.url}/files/results/${sourceId}\\.mp4\\?\\S+$`, 'm'));
    expect(lines.at(-1)).toMatch(/^saved .*clip\.mp4 \(\d/);
    expect(r.stdout).not.toContain('\r');
    expect(await isMp4(out)).toBe(true);
  });

  it('extend --wait in a terminal: a progress line redrawn in place with state and elapsed time', async () => {
    const r = await runInTerminal(['extend', sourceId, 'continue with a slow pan', '--wait', '--poll-interval', '0.25']);
    expect(r.code, r.stdout).toBe(0);
    // Redrawn with carriage return + erase-line, showing a spinner, the state and an m:ss clock.
    expect(r.stdout).toContain('\r\x1b[2K');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's escape codes are what is checked
    const plain = r.stdout.replace(/\x1b\[[0-9;]*m/g, '');
    // Between the state and the clock, what is known of `42%`, `queue 3`, `eta 0:05`.
    expect(plain).toMatch(
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's escape codes are what is checked
      /\r\x1b\[2K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] veo-3-1-extend [0-9a-f]{32}\s+(pending|processing)\s+(?:\d+%\s+)?(?:queue \d+\s+)?(?:eta \d+:\d\d\s+)?elapsed \d+:\d\d/,
    );
    expect(plain).toMatch(/✓ veo-3-1-extend [0-9a-f]{32} succeeded in \d+:\d\d/);
    expect(plain).toMatch(/result\s+http:\/\/\S+\.mp4\?/);
    extendId = /✓ veo-3-1-extend ([0-9a-f]{32})/.exec(plain)![1]!;
  });

  it('status --json finds an extend task without --model; balance --json', async () => {
    // The extension comes from the test above; without it `status "" --json` is only a usage error.
    expect(extendId, 'the extend test above made no task').toMatch(/^[0-9a-f]{32}$/);
    const status = await run(['status', extendId, '--json']);
    expect(status.code, status.stderr).toBe(0);
    const data = JSON.parse(status.stdout);
    expect(data).toMatchObject({ model: 'veo-3-1-extend', taskId: extendId, state: 'success' });
    expect(data.resultUrls[0]).toContain(`${extendId}.mp4`);

    const human = await run(['status', sourceId]);
    expect(human.stdout).toMatch(/^model\s+veo-3-1$/m);
    expect(human.stdout).toMatch(/^state\s+success$/m);
    expect((await run(['status', '0'.repeat(32)])).code).toBe(2);

    const balance = await run(['balance', '--json']);
    expect(balance.code).toBe(0);
    expect(JSON.parse(balance.stdout)).toEqual({ balance: 9.6, currency: 'USD' });
    expect((await run(['balance'])).stdout).toBe('$9.60\n');
  });

  it('exits 6 and prints the failCode when the task fails (--json: one object)', async () => {
    const r = await run([
      'generate',
      'from a picture',
      '--mode',
      'fast',
      '--type',
      'FIRST_AND_LAST_FRAMES_2_VIDEO',
      '--image',
      'http://127.0.0.1:9/a.png',
      '--wait',
      '--json',
      '--poll-interval',
      '0.2',
    ]);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('INVALID_IMAGE_URL');
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ state: 'failed', failCode: 'INVALID_IMAGE_URL', exitCode: 6, error: { kind: 'task_failed' } });
  });

  it('exits 3 for a refused key, 4 for a short balance, 2 for bad usage, 8 when unreachable', async () => {
    const badKey = await run(['balance'], { LONGSHOT_API_KEY: `lsk_${'x'.repeat(43)}` });
    expect(badKey.code).toBe(3);
    expect(badKey.stderr).toMatch(/HTTP 401/);
    expect((await run(['balance'], { LONGSHOT_API_KEY: '' })).code).toBe(3);

    const broke = await t.newAccount('broke', 0);
    const poor = await run(['generate', 'anything', '--mode', 'fast', '--json'], { LONGSHOT_API_KEY: broke.key });
    expect(poor.code).toBe(4);
    expect(JSON.parse(poor.stdout)).toMatchObject({ exitCode: 4, error: { kind: 'balance', status: 402, failCode: 'INSUFFICIENT_BALANCE' } });

    expect((await run(['generate'])).code).toBe(2);
    expect((await run(['generate', 'x', '--mode', 'slow'])).code).toBe(2);
    expect((await run(['generate', 'x', '--bogus'])).code).toBe(2);
    const invalid = await run(['extend', '0'.repeat(32), 'more']);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('TASKID_ERROR');

    const down = await run(['balance', '--base-url', `http://127.0.0.1:${await closedPort()}/api/v1`]);
    expect(down.code).toBe(8);
    expect(down.stderr).toContain('ECONNREFUSED');
  });

  it('keeps the operator commands and lists the creator commands in --help', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('serve');
    expect(help.stdout).toContain('generate "PROMPT"');
    expect((await run(['generate', '--help'])).stdout).toContain('--aspect 16:9|9:16|auto');
  });

  it('takes the bare origin the server prints as LONGSHOT_BASE_URL', async () => {
    const r = await run(['generate', 'a quiet harbour at dawn', '--mode', 'fast', '--wait', '--json', '--poll-interval', '0.25'], { LONGSHOT_BASE_URL: t.url });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ model: 'veo-3-1', state: 'success' });
    const slash = await run(['balance', '--base-url', `${t.url}/`]);
    expect(slash.code, slash.stderr).toBe(0);
    expect(slash.stdout).toMatch(/^\$\d+\.\d\d\n$/);
  });

  it('exits quietly when the reader of stdout goes away (`| head`)', async () => {
    for (const args of [['ledger', 'default'], ['accounts', 'list'], ['keys', 'list', '--account', 'default'], ['balance'], ['--help']]) {
      const r = await runIntoClosedPipe(args, adminEnv());
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: '' });
    }
  });

  it('takes only plain decimal digits as ledger --limit', async () => {
    const ok = await run(['ledger', 'default', '--limit', '1'], adminEnv());
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout.trim().split('\n')).toHaveLength(1); // the account has at least its first credit
    for (const bad of ['0x10', ' 5', '1e1', '2.0', '0']) {
      const r = await run(['ledger', 'default', '--limit', bad], adminEnv());
      expect({ bad, code: r.code }).toEqual({ bad, code: 2 });
      expect(r.stderr).toContain('--limit');
    }
  });
});

describe('longshot keys budgets and admin token', () => {
  it('keys create|update take --budget-usd and --budget-period; a submit past the budget exits 4 naming it', async () => {
    const created = await run(
      ['keys', 'create', '--account', 'default', '--label', 'budgeted', '--budget-usd', '0.20', '--budget-period', 'month'],
      adminEnv(),
    );
    expect(created.code, created.stderr).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^lsk_/);
    const listed = await run(['keys', 'list', '--account', 'default', '--json'], adminEnv());
    const row = JSON.parse(listed.stdout).find((k: any) => k.label === 'budgeted');
    expect(row).toMatchObject({ budgetUsd: 0.2, budgetPeriod: 'month', budgetSpentUsd: 0, state: 'active' });
    expect(listed.stdout).not.toContain(key);

    expect((await run(['generate', 'a red kite', '--mode', 'fast'], { LONGSHOT_API_KEY: key })).code).toBe(0);
    const over = await run(['generate', 'a blue kite', '--mode', 'fast', '--json'], { LONGSHOT_API_KEY: key });
    expect(over.code).toBe(4);
    expect(JSON.parse(over.stdout)).toMatchObject({ error: { kind: 'balance', status: 402, failCode: 'INSUFFICIENT_BALANCE' } });
    expect(over.stderr).toContain('budget of $0.20 per month');

    const raised = await run(['keys', 'update', row.id, '--budget-usd', '0.40'], adminEnv());
    expect(raised.code, raised.stderr).toBe(0);
    const after = JSON.parse((await run(['keys', 'list', '--account', 'default', '--json'], adminEnv())).stdout).find((k: any) => k.id === row.id);
    expect(after).toMatchObject({ budgetUsd: 0.4, budgetPeriod: 'month', budgetSpentUsd: 0.2 });
  });

  it('refuses bad values naming the flag, by the admin API’s rules (exit 2)', async () => {
    const cases: Array<[string[], string]> = [
      [['keys', 'create', '--account', 'default', '--budget-usd', '1e1'], '--budget-usd'],
      [['keys', 'create', '--account', 'default', '--budget-period', 'week'], '--budget-period'],
      [['keys', 'update', 'key_nope', '--label', 'x'], 'key_nope'],
      [['accounts', 'create', 'default'], 'already exists'],
      [['accounts', 'create', 'fresh', '--credit=-5'], '--credit'],
      [['accounts', 'credit', 'default', '0'], 'USD'],
      [['accounts', 'show', 'default', '--bogus'], '--bogus'],
    ];
    for (const [args, says] of cases) {
      const r = await run(args, adminEnv());
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(says);
    }
  });

  it('admin token --rotate prints a new token once, which the admin API accepts within 5 s', async () => {
    const old = t.service.firstAdminToken!;
    expect((await run(['admin', 'token'], adminEnv())).code).toBe(2);
    const pinned = await run(['admin', 'token', '--rotate'], { ...adminEnv(), LONGSHOT_ADMIN_TOKEN: 'x'.repeat(40) });
    expect(pinned.code).toBe(2);
    expect(pinned.stderr).toContain('LONGSHOT_ADMIN_TOKEN');
    const r = await run(['admin', 'token', '--rotate'], adminEnv());
    expect(r.code, r.stderr).toBe(0);
    const token = r.stdout.trim();
    expect(token).toMatch(/^lsa_[A-Za-z0-9_-]{43}$/);
    const deadline = Date.now() + 7000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = (await t.api('GET', '/admin/v1/accounts', { key: token })).status;
      if (status !== 200) await new Promise((res) => setTimeout(res, 200));
    }
    expect(status).toBe(200);
    expect((await t.api('GET', '/admin/v1/accounts', { key: old })).status).toBe(401);
  });
});

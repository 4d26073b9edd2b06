import { type ChildProcess, spawn } from 'node:child_process';

const ROOT = new URL('../../', import.meta.url).pathname;

export interface ChildService {
  child: ChildProcess;
  /** The API's address; '' for `--role worker`, which serves no HTTP. */
  url: string;
  /** The first-start key, when this start created the default account. */
  key: string | null;
  output: () => string;
}

/**
 * Runs `longshot serve` from the compiled package (`npm test` builds dist/ first) as a separate
 * process, so a test can kill it like a crash would.
 */
export function startChildService(env: Record<string, string>, args: string[] = []): Promise<ChildService> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['dist/cli/main.js', 'serve', ...args], {
      cwd: ROOT,
      env: { ...inheritedEnv(), LONGSHOT_PORT: '0', LONGSHOT_LOG_LEVEL: 'error', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1] ?? (out.includes('worker started') ? '' : undefined);
      if (url !== undefined && out.includes('Engine:')) {
        const key = /\n\s+(lsk_\S+)/.exec(out)?.[1] ?? null;
        // The banner is printed once; give it a moment to be complete before resolving.
        setTimeout(() => resolve({ child, url, key: key ?? /\n\s+(lsk_\S+)/.exec(out)?.[1] ?? null, output: () => out }), 50);
        child.stdout!.off('data', onData);
        child.stdout!.on('data', (more: Buffer) => (out += more.toString()));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code, signal) => reject(new Error(`longshot serve exited (${code ?? signal}) before it was ready:\n${out}`)));
  });
}

/**
 * The test runner's environment minus the adapter switches: a child uses PostgreSQL, Redis or S3
 * only when its test passes them (DATABASE_URL is set for the port suites, not for every child).
 */
function inheritedEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name === 'DATABASE_URL' || name === 'REDIS_URL' || name.startsWith('LONGSHOT_S3_') || name === 'LONGSHOT_ROLE') delete env[name];
  }
  return env;
}

export function waitForExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

import { loadConfig } from '../config.js';
import { startService } from '../main.js';
import { CliError } from './cli-error.js';

export const SERVE_HELP = `Usage: longshot serve [--role all|api|worker]

Runs the API and the in-process workers on the embedded defaults (SQLite and result
files under LONGSHOT_DATA_DIR, default ./data; the local sandbox engine).
Listens on LONGSHOT_HOST:LONGSHOT_PORT (default 127.0.0.1:3000). SIGTERM or SIGINT
stops it gracefully: in-flight requests finish, running tasks go back to the queue.

--role all      the API, LONGSHOT_WORKERS claim loops, maintenance and the webhook
                sender in one process (default; also LONGSHOT_ROLE)
--role api      only the HTTP API: no workers, no maintenance, no webhook sender
--role worker   only the workers, maintenance and the webhook sender; serves no
                HTTP (set LONGSHOT_PUBLIC_URL so callbacks carry the API's URLs)
Many processes need DATABASE_URL (PostgreSQL), and REDIS_URL and LONGSHOT_S3_BUCKET
once there is more than one API process or machine; see docs/operations.md.
`;

export type Role = 'all' | 'api' | 'worker';

/** `--role X` or `--role=X`, else LONGSHOT_ROLE, else all. */
export function parseRole(args: string[], env: Record<string, string | undefined> = process.env): Role {
  let raw: string | undefined = env.LONGSHOT_ROLE?.trim() || undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--role') raw = args[++i];
    else if (a.startsWith('--role=')) raw = a.slice('--role='.length);
    else throw new CliError(`unknown option "${a}" for serve; run longshot serve --help`);
  }
  if (raw === undefined) return 'all';
  if (raw === 'all' || raw === 'api' || raw === 'worker') return raw;
  throw new CliError(`--role ${raw ?? ''} is not valid: use all, api or worker`);
}

export async function runServe(args: string[]): Promise<number> {
  const role = parseRole(args);
  const config = loadConfig();
  const service = await startService(config, { api: role !== 'worker', workers: role === 'api' ? false : role === 'worker' ? true : undefined });
  const url = service.url ?? '';
  const lines = [
    '',
    role === 'worker' ? 'Longshot worker started (role worker: no HTTP)' : `Longshot is listening on ${url}   (playground: ${url}/)`,
    `Role: ${role}   Data: ${config.databaseUrl ? 'PostgreSQL' : config.dataDir}   Workers: ${role === 'api' ? 0 : config.workers}`,
    `ffmpeg: ${service.ffmpeg.version ?? 'unknown version'} (${service.ffmpeg.source})${service.ffmpeg.bundled ? ' — the bundled 2018 build: install a current ffmpeg on PATH or set LONGSHOT_FFMPEG' : ''}`,
    Object.values(config.routes).every((r) => r.length === 1 && r[0] === 'local')
      ? 'Engine: local — a deterministic procedural renderer for development, tests and demos (not AI).'
      : `Engine: routes ${Object.entries(config.routes)
          .map(([s, r]) => `${s} → ${r.join(', ') || '(none)'}`)
          .join('; ')} (docs/vertex.md, docs/gemini.md)`,
  ];
  // The model checks ran before the start finished: an engine that cannot serve is said here too.
  for (const s of service.deps.health.all().filter((h) => !h.available)) {
    lines.push(`  ${s.engine} is UNAVAILABLE: ${s.reason}${s.fix ? `\n    fix: ${s.fix}` : ''}`);
  }
  if (service.firstAdminToken) {
    lines.push(
      '',
      'Made the admin token for /console, /admin/v1 and /metrics (shown only this once; LONGSHOT_ADMIN_TOKEN sets your own):',
      `  ${service.firstAdminToken}`,
    );
  }
  if (service.firstKey) {
    lines.push(
      '',
      'Created account "default" with sandbox credit and this API key (shown only this once):',
      `  ${service.firstKey}`,
      '',
      'Try it:',
      `  curl -s -X POST ${url}/api/v1/generateTask/veo-3-1 \\`,
      `    -H "Authorization: Bearer ${service.firstKey}" -H "Content-Type: application/json" \\`,
      `    -d '{"request_type":"async","input":{"prompt":"a calm ocean at sunset","mode":"fast"}}'`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      service.deps.log.info({ signal }, 'shutting down');
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      resolve();
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
  await service.close();
  return 0;
}

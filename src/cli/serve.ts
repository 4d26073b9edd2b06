import { loadConfig } from '../config.js';
import { startService } from '../main.js';

export const SERVE_HELP = `Usage: longshot serve

Runs the API and the in-process workers on the embedded defaults (SQLite and result
files under LONGSHOT_DATA_DIR, default ./data; the local sandbox engine).
Listens on LONGSHOT_HOST:LONGSHOT_PORT (default 127.0.0.1:3000). SIGTERM or SIGINT
stops it gracefully: in-flight requests finish, running tasks go back to the queue.
`;

export async function runServe(_args: string[]): Promise<number> {
  const config = loadConfig();
  const service = await startService(config);
  const url = service.url!;
  const lines = [
    '',
    `Longshot is listening on ${url}`,
    `Data: ${config.dataDir}   Workers: ${config.workers}`,
    'Engine: local — a deterministic procedural renderer for development, tests and demos (not AI).',
  ];
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
  process.stdout.write(lines.join('\n') + '\n\n');

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

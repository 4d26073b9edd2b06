import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/config.js';
import { type Service, startService } from '../../src/main.js';
import { createPgSchema } from './databases.js';

/**
 * Several processes' worth of services on one fresh PostgreSQL schema and one data dir, as a
 * scaled-out deployment runs them: each `{ workers: false }` is an API-only process, the others
 * also run workers. `name` (lowercase letters) names the schema and the dir. Rate limits are off;
 * `env` adds to the configuration of all of them.
 */
export async function startPgServices(
  base: string,
  name: string,
  processes: Array<{ workers?: boolean }>,
  env: Record<string, string> = {},
): Promise<{ services: Service[]; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `longshot-${name}-`));
  const schema = await createPgSchema(base, `${name}_${randomBytes(6).toString('hex')}`);
  const services: Service[] = [];
  // Last started, first closed: API processes before the workers they hand tasks to.
  const close = async () => {
    for (const service of [...services].reverse()) await service.close();
    await schema.drop();
    await rm(dir, { recursive: true, force: true });
  };
  const config = {
    LONGSHOT_PORT: '0',
    LONGSHOT_DATA_DIR: dir,
    LONGSHOT_LOG_LEVEL: 'error',
    DATABASE_URL: schema.url,
    LONGSHOT_SUBMIT_RPM: '0',
    LONGSHOT_STATUS_RPM: '0',
    ...env,
  };
  try {
    for (const { workers } of processes) {
      services.push(await startService(loadConfig(config), { log: pino({ level: 'error' }), workers }));
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { services, close };
}

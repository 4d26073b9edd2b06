import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { type Logger, pino } from 'pino';
import { loadAdminToken } from './admin/admin-token.js';
import { type Config, ConfigError } from './config.js';
import { countAccounts, createAccount, createApiKey } from './db/accounts-repo.js';
import { type Db, openDb } from './db/connect.js';
import { migrateToLatest } from './db/migrations.js';
import { urlSigningKey } from './db/settings-repo.js';
import { type ContentPolicy, createContentPolicy, parsePolicyList } from './domain/moderation.js';
import { buildEngineRegistry } from './engines/build-registry.js';
import { defaultFontPath } from './engines/ffmpeg.js';
import { describeFfmpeg, type FfmpegInfo, logFfmpeg } from './engines/ffmpeg-info.js';
import { createEngineHealth } from './engines/health.js';
import { createStandingReader, persistStanding } from './engines/health-mirror.js';
import { createLocalEngine } from './engines/local/local-engine.js';
import { startModelChecks } from './engines/model-checks.js';
import { buildApp } from './http/app.js';
import { createAuthenticator } from './http/auth.js';
import { createMemoryRateLimiter } from './limits/rate-limiter.js';
import { createRedisRateLimiter } from './limits/redis-rate-limiter.js';
import { createMetrics } from './metrics/metrics.js';
import { type Clock, type Deps, systemClock } from './services/deps.js';
import { createTaskEvents } from './services/task-events.js';
import { createFsBlobStore } from './storage/fs-blob-store.js';
import { createS3BlobStore } from './storage/s3-blob-store.js';
import { createUrlSigner } from './storage/url-signer.js';
import type { CallbackTransport } from './webhooks/deliver.js';
import { createWebhookSender } from './webhooks/sender.js';
import { startMaintenance } from './worker/maintenance.js';
import { createPgWakeHub } from './worker/pg-notify-waker.js';
import { createWaker } from './worker/waker.js';
import { createWorkerPool } from './worker/worker-pool.js';

export interface ServiceOptions {
  /** Serve the API (default true). */
  api?: boolean;
  /** Run workers in this process (default: config.workers > 0). */
  workers?: boolean;
  clock?: Clock;
  log?: Logger;
  /** How webhooks reach receivers (tests: a resolver and a CA); production leaves it unset. */
  callbackTransport?: CallbackTransport;
}

export interface Service {
  deps: Deps;
  app: FastifyInstance | null;
  /** The listening address, e.g. http://127.0.0.1:3000 (null without the API role). */
  url: string | null;
  /** Set when this start created the `default` account: its key, shown this once. */
  firstKey: string | null;
  /** Set when this start made the admin token: shown this once. */
  firstAdminToken: string | null;
  /** The ffmpeg this process renders with: path, source (configured / PATH / bundled), version. */
  ffmpeg: FfmpegInfo;
  /** Graceful stop: finish in-flight requests, stop claiming, hand running tasks back, close. */
  close(): Promise<void>;
}

export function createLogger(config: Config): Logger {
  return pino({ level: config.logLevel, base: { service: 'longshot' } });
}

/** The shipped list unless LONGSHOT_MODERATION_LIST names another; a missing file stops the start. */
export async function loadContentPolicy(config: Config): Promise<ContentPolicy> {
  const path = config.moderationListPath ?? fileURLToPath(new URL('../assets/moderation.txt', import.meta.url));
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`LONGSHOT_MODERATION_LIST=${path} cannot be read (${(err as Error).message}); give a readable word list file`);
  }
  return createContentPolicy(parsePolicyList(text));
}

/** Opens the database and brings its schema up to date. */
export async function openMigratedDb(config: Config): Promise<Db> {
  await mkdir(config.dataDir, { recursive: true });
  const db = openDb(config);
  await migrateToLatest(db.kysely);
  return db;
}

/** The composition root: config → adapters → roles. Nothing else builds dependencies. */
export async function startService(config: Config, opts: ServiceOptions = {}): Promise<Service> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? createLogger(config);
  const db = await openMigratedDb(config);
  const blobs = config.s3 ? createS3BlobStore(config.s3, { tmpDir: join(config.dataDir, 'tmp', 's3') }) : createFsBlobStore(join(config.dataDir, 'files'));
  const signer = createUrlSigner(await urlSigningKey(db));
  // One `ffmpeg -version` at start, so the log says which ffmpeg renders (and warns about the 2018 fallback).
  const ffmpeg = await describeFfmpeg(config.ffmpegPath ?? undefined);
  logFfmpeg(log, ffmpeg);
  const ffmpegPath = ffmpeg.path;
  const local = createLocalEngine({
    ffmpegPath,
    fontPath: defaultFontPath(),
    tmpDir: join(config.dataDir, 'tmp'),
  });
  // LONGSHOT_ROUTES / GEMINI_API_KEY (docs/gemini.md); with no upstream every strategy → local.
  const engines = buildEngineRegistry(config, local, { ffmpegPath, fontPath: defaultFontPath() });
  const localWaker = createWaker();
  const localWebhookWaker = createWaker();
  // PostgreSQL: wakes reach other processes too (LISTEN/NOTIFY); polling stays the truth.
  // LONGSHOT_PG_NOTIFY=off leaves only polling across processes (benchmarks, NOTIFY-less proxies).
  const hub =
    db.dialect === 'postgres' && config.databaseUrl && config.pgNotify
      ? createPgWakeHub({ db, connectionString: config.pgListenUrl ?? config.databaseUrl, probe: config.pgListenUrl !== null, log })
      : null;
  const waker = hub ? hub.waker('tasks', localWaker) : localWaker;
  const webhookWaker = hub ? hub.waker('webhooks', localWebhookWaker) : localWebhookWaker;
  const contentPolicy = await loadContentPolicy(config);
  // Made (and shown once) at the first start unless LONGSHOT_ADMIN_TOKEN names one.
  const admin = await loadAdminToken(db, config.adminToken);
  const taskEvents = hub ? hub.taskEvents(createTaskEvents()) : createTaskEvents();
  const runWorkers = opts.workers ?? config.workers > 0;
  // Engine health belongs to the processes that run engines; an API-only process reports what they stored.
  const upstreamNames = engines
    .all()
    .filter((e) => e.name !== 'local')
    .map((e) => e.name);
  const health = createEngineHealth(
    engines.all().map((e) => e.name),
    {
      failures: config.upstream.breakerFailures,
      cooldownMs: config.upstream.breakerCooldownMs,
      probeTimeoutMs: config.upstream.deadlineMs + 60_000,
      recheckMs: 5 * 60_000,
    },
    runWorkers ? persistStanding(db, log, () => clock.now()) : undefined,
  );
  const engineStandings = runWorkers ? () => health.all().filter((s) => upstreamNames.includes(s.engine)) : createStandingReader(db, upstreamNames, log);
  // GET /metrics: this process's counters; queue, backlog and money read from the database at scrape.
  const metrics = createMetrics({ db, engines: engines.all().map((e) => e.name), engineStandings, now: () => deps.clock.now() });
  const deps: Deps = {
    admin: admin.auth,
    metrics,
    config,
    db,
    clock,
    blobs,
    signer,
    engines,
    health,
    engineStandings,
    log,
    contentPolicy,
    taskEvents,
    publicUrl: config.publicUrl ?? '',
    wakeWorkers: () => waker.wake(),
    wakeWebhooks: () => webhookWaker.wake(),
    callbackTransport: opts.callbackTransport,
  };

  let firstKey: string | null = null;
  if ((await countAccounts(db)) === 0) {
    try {
      const account = await createAccount(db, 'default', config.initialCreditMicros, clock.now());
      firstKey = (await createApiKey(db, account.id, 'created on first start', clock.now())).key;
    } catch (err) {
      // Several processes started at once on an empty database: one of them created it.
      if ((await countAccounts(db)) === 0) throw err;
    }
  }

  const pool = runWorkers ? createWorkerPool(deps, localWaker, Math.max(1, config.workers)) : null;
  const maintenance = runWorkers ? startMaintenance(deps, { reapEveryMs: Math.max(500, config.leaseMs / 2), sweepEveryMs: 60_000 }) : null;
  // The webhook sender belongs to the worker role; LONGSHOT_WEBHOOK_CONCURRENCY=0 leaves it to other processes.
  const sender =
    runWorkers && config.webhookConcurrency > 0
      ? createWebhookSender(deps, { waker: localWebhookWaker, concurrency: config.webhookConcurrency, transport: opts.callbackTransport })
      : null;

  let ready = false;
  let app: FastifyInstance | null = null;
  let url: string | null = null;
  // REDIS_URL: one budget per key across every API process; else this process counts alone.
  const limiter = opts.api === false ? null : config.redisUrl ? createRedisRateLimiter(config.redisUrl, { log }) : createMemoryRateLimiter();
  if (limiter) {
    app = buildApp({ deps, auth: createAuthenticator(db, clock), limiter, isReady: () => ready });
    const address = await app.listen({ host: config.host, port: config.port });
    url = address.replace('://0.0.0.0', '://localhost').replace('://[::]', '://localhost');
  }
  deps.publicUrl = config.publicUrl ?? url ?? `http://localhost:${config.port}`;
  if (hub && (pool || sender || app)) await hub.listen();
  // A retired model or a refused key is found before the first task is claimed (each check is bounded).
  const checks = runWorkers ? startModelChecks(engines.all(), health, log, { everyMs: config.upstream.modelCheckMs, now: () => clock.now() }) : null;
  await checks?.first;
  await maintenance?.ready; // leftover temp folders of killed renders are swept before the first claim
  pool?.start();
  sender?.start();
  ready = true;

  let closing: Promise<void> | null = null;
  return {
    deps,
    app,
    url,
    firstKey,
    firstAdminToken: admin.created,
    ffmpeg,
    close() {
      closing ??= (async () => {
        ready = false;
        // In-flight requests get a grace period; a client that never reads its response (a
        // stalled download) must not keep the process alive past it.
        const force = setTimeout(() => app?.server.closeAllConnections(), config.shutdownGraceMs);
        maintenance?.stop();
        checks?.stop();
        await Promise.all([app?.close(), pool?.stop(), sender?.stop()]);
        clearTimeout(force);
        await hub?.close();
        if (limiter && 'close' in limiter) await (limiter as { close(): Promise<void> }).close();
        await db.close();
      })();
      return closing;
    },
  };
}

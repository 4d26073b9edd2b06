import { resolve } from 'node:path';
import type { Strategy } from './domain/models.js';
import { parseUsd } from './domain/money.js';
import { type EngineSpec, parseEngineSpecs, VERTEX_MODEL_FAST, VERTEX_MODEL_QUALITY, type VertexDefaults } from './engines/engine-specs.js';
import { parseRoutes } from './engines/routes-config.js';
import { DEFAULT_RETRY_SCHEDULE, parseRetrySchedule } from './webhooks/schedule.js';

/**
 * The one place that reads process.env. Every setting is typed and defaulted; a bad value stops
 * the process at start with a message that says how to fix it.
 */
export interface Config {
  host: string;
  port: number;
  /** Base URL that result links are built on; null means the address the server listens on. */
  publicUrl: string | null;
  dataDir: string;
  databaseUrl: string | null;
  /** REDIS_URL: rate limits shared by every API process; null keeps them in this process's memory. */
  redisUrl: string | null;
  /** PostgreSQL only: LISTEN/NOTIFY wake-ups across processes (LONGSHOT_PG_NOTIFY); false = workers only poll. */
  pgNotify: boolean;
  /**
   * PostgreSQL only: where the LISTEN connection goes (LONGSHOT_PG_LISTEN_URL), straight to the
   * server when DATABASE_URL goes through a pooler in transaction mode; null = DATABASE_URL.
   */
  pgListenUrl: string | null;
  /** PostgreSQL only: connections each process's pool opens at most (LONGSHOT_PG_POOL_SIZE). */
  pgPoolSize: number;
  /** SQLite only: status rows kept in memory while provably current (LONGSHOT_STATUS_CACHE); false = every read asks SQLite. */
  statusCache: boolean;
  /** S3-compatible result storage (LONGSHOT_S3_BUCKET set); null keeps files under dataDir. */
  s3: S3Config | null;
  workers: number;
  ffmpegPath: string | null;
  bodyLimitBytes: number;
  retentionMs: number;
  urlTtlMs: number;
  leaseMs: number;
  /** Attempts a task gets before a crash-looping render is failed. */
  maxAttempts: number;
  /** A render still running after this long fails with TIMEOUT. */
  taskTimeoutMs: number;
  /** How long a graceful stop waits for in-flight requests before closing their connections. */
  shutdownGraceMs: number;
  /** Slow-client protection of the HTTP server (docs/operations.md#slow-clients). */
  http: HttpServerLimits;
  allowPrivateCallbacks: boolean;
  allowPrivateImageUrls: boolean;
  /** Delays before each webhook retry, in ms; its length is the number of retries. */
  webhookRetryScheduleMs: number[];
  /** One webhook attempt (lookup, connect, TLS, response) must finish within this. */
  webhookTimeoutMs: number;
  /** Deliveries sent at once by this process's sender; 0 runs no sender here. */
  webhookConcurrency: number;
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  /** Requests slower than this are logged at info level; the rest are sampled. */
  slowRequestMs: number;
  /** Share of ordinary requests logged at info level (0..1). */
  logSampleRate: number;
  /** Micro-dollar prices: model → mode → price. */
  prices: Record<'veo-3-1' | 'veo-3-1-extend', Record<'fast' | 'quality', number>>;
  /** Limits for keys that set none (docs/contract.md §7); 0 = unlimited. */
  defaultLimits: { submitRpm: number; statusRpm: number; maxUnfinished: number };
  /** Word/phrase list of the local content policy; null = the list shipped in assets/. */
  moderationListPath: string | null;
  /** Credit given to the `default` account created on first start, in micro-dollars. */
  initialCreditMicros: number;
  /** LONGSHOT_ADMIN_TOKEN: the operator's token; null = the one stored at the first start. */
  adminToken: string | null;
  /** LONGSHOT_METRICS_PUBLIC: /metrics without the admin token (a private scrape network). */
  metricsPublic: boolean;
  /** Google Gemini API (docs/gemini.md): the `gemini` engine exists when the key is set. */
  geminiApiKey: string | null;
  geminiBaseUrl: string;
  geminiModelFast: string;
  geminiModelQuality: string;
  /** How every upstream engine polls, retries and gives up; engine health (docs/operations.md). */
  upstream: UpstreamSettings;
  /** Engine instances (`local`, `gemini`, `vertex`, LONGSHOT_ENGINES) and the route table (LONGSHOT_ROUTES). */
  engineSpecs: EngineSpec[];
  routes: Record<Strategy, string[]>;
}

export interface HttpServerLimits {
  /** A request's headers and body must arrive within this; the answer is not limited by it. */
  requestTimeoutMs: number;
  /** A request's headers must arrive within this (and a new connection must start one). */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Connections open at once; further ones are closed on arrival. 0 = no cap. */
  maxConnections: number;
}

interface UpstreamSettings {
  /** Poll interval once a job may be done (docs/performance.md, added latency). */
  pollMs: number;
  /** Longest wait between polls before that. */
  pollMaxMs: number;
  /** First delay of a retried HTTP call (429/5xx/network); doubles. */
  retryMs: number;
  /** Retries of one HTTP call before UPSTREAM_ERROR. */
  retries: number;
  /**
   * The soft deadline: an upstream job without a result this long after its submit is overdue. It
   * is then polled on the slow schedule, its hold kept (the upstream may still bill it), until
   * `hardLimitMs` (docs/operations.md, unknown upstream outcomes).
   */
  deadlineMs: number;
  /** From the submit: a job still running (or unreachable) this long fails with TIMEOUT, released. */
  hardLimitMs: number;
  /** After that TIMEOUT the maintenance loop keeps asking the upstream this long, to record a late outcome. */
  lateCheckMs: number;
  /** How often each upstream engine checks that its models exist and its credentials work. */
  modelCheckMs: number;
  /** Consecutive UPSTREAM_ERRORs that open an engine's circuit breaker. */
  breakerFailures: number;
  /** How long an open breaker skips its engine before one task probes it. */
  breakerCooldownMs: number;
}

export interface S3Config {
  bucket: string;
  /** Custom endpoint for S3-compatible stores (MinIO, R2, …); null means AWS. */
  endpoint: string | null;
  region: string;
  /** Path-style URLs (`endpoint/bucket/key`), which most self-hosted stores need. */
  forcePathStyle: boolean;
  /** Key prefix inside the bucket, e.g. `longshot/`. */
  prefix: string;
  /** Explicit credentials; null lets the AWS SDK find them (env, profile, instance role). */
  credentials: { accessKeyId: string; secretAccessKey: string } | null;
}

export class ConfigError extends Error {}

function s3Config(env: Env): S3Config | null {
  const bucket = env.LONGSHOT_S3_BUCKET?.trim();
  if (!bucket) return null;
  const endpoint = env.LONGSHOT_S3_ENDPOINT?.trim().replace(/\/+$/, '') || null;
  if (endpoint && !/^https?:\/\/./.test(endpoint)) {
    throw new ConfigError(`LONGSHOT_S3_ENDPOINT=${endpoint} is not valid: use an http(s) URL such as http://127.0.0.1:9000`);
  }
  const accessKeyId = env.AWS_ACCESS_KEY_ID?.trim();
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY?.trim();
  return {
    bucket,
    endpoint,
    region: str(env, 'LONGSHOT_S3_REGION', env.AWS_REGION?.trim() || 'us-east-1'),
    forcePathStyle: bool(env, 'LONGSHOT_S3_FORCE_PATH_STYLE', endpoint !== null),
    prefix: (env.LONGSHOT_S3_PREFIX?.trim() ?? '').replace(/^\/+/, ''),
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : null,
  };
}

type Env = Record<string, string | undefined>;

/** LONGSHOT_PG_LISTEN_URL: a PostgreSQL URL, and only where something would listen on it. */
function pgListenUrl(env: Env, pgNotify: boolean): string | null {
  const url = env.LONGSHOT_PG_LISTEN_URL?.trim();
  if (!url) return null;
  if (!/^postgres(ql)?:\/\/./.test(url))
    throw new ConfigError('LONGSHOT_PG_LISTEN_URL is not valid: use a postgres:// URL of the same database DATABASE_URL names');
  if (!env.DATABASE_URL?.trim()) throw new ConfigError('LONGSHOT_PG_LISTEN_URL is set without DATABASE_URL: it only serves a PostgreSQL deployment');
  if (!pgNotify) throw new ConfigError('LONGSHOT_PG_LISTEN_URL is set but LONGSHOT_PG_NOTIFY=off: nothing would listen on it');
  return url;
}

export function loadConfig(env: Env = process.env): Config {
  const host = str(env, 'LONGSHOT_HOST', '127.0.0.1');
  const port = int(env, 'LONGSHOT_PORT', 3000, 0, 65535);
  const pgNotify = bool(env, 'LONGSHOT_PG_NOTIFY', true);
  return {
    host,
    port,
    publicUrl: env.LONGSHOT_PUBLIC_URL?.trim().replace(/\/+$/, '') || null,
    dataDir: resolve(str(env, 'LONGSHOT_DATA_DIR', './data')),
    databaseUrl: env.DATABASE_URL?.trim() || null,
    redisUrl: env.REDIS_URL?.trim() || null,
    pgNotify,
    pgListenUrl: pgListenUrl(env, pgNotify),
    pgPoolSize: int(env, 'LONGSHOT_PG_POOL_SIZE', 10, 1, 1000),
    statusCache: bool(env, 'LONGSHOT_STATUS_CACHE', true),
    s3: s3Config(env),
    workers: int(env, 'LONGSHOT_WORKERS', 2, 0, 64),
    ffmpegPath: env.LONGSHOT_FFMPEG?.trim() || null,
    bodyLimitBytes: int(env, 'LONGSHOT_BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    retentionMs: num(env, 'LONGSHOT_RETENTION_DAYS', 7, 0.0001, 3650) * 86_400_000,
    urlTtlMs: int(env, 'LONGSHOT_URL_TTL_SECONDS', 86_400, 1, 7 * 86_400) * 1000,
    leaseMs: int(env, 'LONGSHOT_LEASE_MS', 30_000, 1000, 3_600_000),
    maxAttempts: int(env, 'LONGSHOT_MAX_ATTEMPTS', 3, 1, 100),
    taskTimeoutMs: int(env, 'LONGSHOT_TASK_TIMEOUT_SECONDS', 900, 1, 86_400) * 1000,
    shutdownGraceMs: int(env, 'LONGSHOT_SHUTDOWN_GRACE_SECONDS', 10, 0, 3600) * 1000,
    http: httpServerLimits(env),
    allowPrivateCallbacks: bool(env, 'LONGSHOT_ALLOW_PRIVATE_CALLBACKS', false),
    allowPrivateImageUrls: bool(env, 'LONGSHOT_ALLOW_PRIVATE_IMAGE_URLS', false),
    webhookRetryScheduleMs: retrySchedule(env, 'LONGSHOT_WEBHOOK_RETRY_SCHEDULE', DEFAULT_RETRY_SCHEDULE),
    webhookTimeoutMs: int(env, 'LONGSHOT_WEBHOOK_TIMEOUT_MS', 30_000, 100, 120_000),
    webhookConcurrency: int(env, 'LONGSHOT_WEBHOOK_CONCURRENCY', 4, 0, 64),
    logLevel: oneOf(env, 'LONGSHOT_LOG_LEVEL', ['error', 'warn', 'info', 'debug'] as const, 'info'),
    slowRequestMs: int(env, 'LONGSHOT_SLOW_REQUEST_MS', 500, 0, 600_000),
    logSampleRate: num(env, 'LONGSHOT_LOG_SAMPLE_RATE', 0.001, 0, 1),
    prices: {
      'veo-3-1': {
        fast: usd(env, 'LONGSHOT_PRICE_VEO_3_1_FAST_USD', 0.2),
        quality: usd(env, 'LONGSHOT_PRICE_VEO_3_1_QUALITY_USD', 1.5),
      },
      'veo-3-1-extend': {
        fast: usd(env, 'LONGSHOT_PRICE_VEO_3_1_EXTEND_FAST_USD', 0.2),
        quality: usd(env, 'LONGSHOT_PRICE_VEO_3_1_EXTEND_QUALITY_USD', 0.2),
      },
    },
    defaultLimits: {
      submitRpm: int(env, 'LONGSHOT_SUBMIT_RPM', 60, 0, 1_000_000),
      statusRpm: int(env, 'LONGSHOT_STATUS_RPM', 600, 0, 10_000_000),
      maxUnfinished: int(env, 'LONGSHOT_MAX_UNFINISHED', 10, 0, 1_000_000),
    },
    moderationListPath: env.LONGSHOT_MODERATION_LIST?.trim() || null,
    initialCreditMicros: usd(env, 'LONGSHOT_INITIAL_CREDIT_USD', 10),
    adminToken: adminTokenSetting(env),
    metricsPublic: bool(env, 'LONGSHOT_METRICS_PUBLIC', false),
    ...engineConfig(env),
  };
}

function engineConfig(
  env: Env,
): Pick<Config, 'geminiApiKey' | 'geminiBaseUrl' | 'geminiModelFast' | 'geminiModelQuality' | 'upstream' | 'engineSpecs' | 'routes'> {
  const gemini = {
    apiKey: env.GEMINI_API_KEY?.trim() || null,
    baseUrl: str(env, 'LONGSHOT_GEMINI_BASE_URL', 'https://generativelanguage.googleapis.com').replace(/\/+$/, ''),
    // The last Veo 3.1 ids Google documented for the Gemini API; reported shut down there on
    // 2026-10-22 (docs/model-ids.md). The model check at start says so instead of failing tasks.
    modelFast: str(env, 'LONGSHOT_GEMINI_MODEL_FAST', 'veo-3.1-fast-generate-preview'),
    modelQuality: str(env, 'LONGSHOT_GEMINI_MODEL_QUALITY', 'veo-3.1-generate-preview'),
  };
  if (!/^https?:\/\//.test(gemini.baseUrl)) throw new ConfigError(`LONGSHOT_GEMINI_BASE_URL=${gemini.baseUrl} is not valid: use an http(s) URL`);
  const vertex: VertexDefaults = {
    project: env.LONGSHOT_VERTEX_PROJECT?.trim() || null,
    location: str(env, 'LONGSHOT_VERTEX_LOCATION', 'us-central1'),
    credentialsFile: env.GOOGLE_APPLICATION_CREDENTIALS?.trim() || null,
    modelFast: str(env, 'LONGSHOT_VERTEX_MODEL_FAST', VERTEX_MODEL_FAST),
    modelQuality: str(env, 'LONGSHOT_VERTEX_MODEL_QUALITY', VERTEX_MODEL_QUALITY),
    baseUrl: env.LONGSHOT_VERTEX_BASE_URL?.trim() || null,
    storageUri: env.LONGSHOT_VERTEX_STORAGE_URI?.trim() || null,
    storageBaseUrl: str(env, 'LONGSHOT_VERTEX_STORAGE_BASE_URL', 'https://storage.googleapis.com'),
  };
  const specs = parseEngineSpecs(env.LONGSHOT_ENGINES, gemini, vertex, env.FAL_KEY?.trim() || null);
  if (!specs.ok) throw new ConfigError(`LONGSHOT_ENGINES ${specs.error}`);
  const routes = parseRoutes(env.LONGSHOT_ROUTES, specs.value);
  if (!routes.ok) throw new ConfigError(`LONGSHOT_ROUTES=${env.LONGSHOT_ROUTES} is not valid: ${routes.error}`);
  return {
    geminiApiKey: gemini.apiKey,
    geminiBaseUrl: gemini.baseUrl,
    geminiModelFast: gemini.modelFast,
    geminiModelQuality: gemini.modelQuality,
    upstream: upstreamSettings(env),
    engineSpecs: specs.value,
    routes: routes.value,
  };
}

/**
 * Node and Fastify leave these off (0), which lets a client that sends a byte every few seconds
 * hold a connection forever. None of them limits an answer held open on purpose (wait=, SSE).
 */
function httpServerLimits(env: Env): HttpServerLimits {
  const requestTimeoutMs = int(env, 'LONGSHOT_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000);
  const headersTimeoutMs = int(env, 'LONGSHOT_HEADERS_TIMEOUT_MS', 10_000, 100, 3_600_000);
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(
      `LONGSHOT_HEADERS_TIMEOUT_MS=${headersTimeoutMs} is not valid: it must not exceed LONGSHOT_REQUEST_TIMEOUT_MS=${requestTimeoutMs} (the headers are part of the request)`,
    );
  }
  return {
    requestTimeoutMs,
    headersTimeoutMs,
    keepAliveTimeoutMs: int(env, 'LONGSHOT_KEEPALIVE_TIMEOUT_MS', 5000, 100, 600_000),
    maxConnections: int(env, 'LONGSHOT_MAX_CONNECTIONS', 10_000, 0, 10_000_000),
  };
}

/** LONGSHOT_UPSTREAM_*; the older LONGSHOT_GEMINI_* names of the same settings still count. */
function upstreamSettings(env: Env): UpstreamSettings {
  const either = (name: string): string => (env[`LONGSHOT_UPSTREAM_${name}`]?.trim() ? `LONGSHOT_UPSTREAM_${name}` : `LONGSHOT_GEMINI_${name}`);
  const pollMs = int(env, either('POLL_MS'), 5000, 10, 600_000);
  const deadlineMs = int(env, either('DEADLINE_SECONDS'), 600, 1, 86_400) * 1000;
  return {
    pollMs,
    pollMaxMs: Math.max(pollMs, int(env, either('POLL_MAX_MS'), 30_000, 10, 600_000)),
    retryMs: int(env, either('RETRY_MS'), 2000, 1, 600_000),
    retries: int(env, either('RETRIES'), 4, 0, 20),
    deadlineMs,
    // Never before the soft deadline: a hard limit below it would fail jobs that are not even overdue.
    hardLimitMs: Math.max(deadlineMs, int(env, 'LONGSHOT_UPSTREAM_HARD_LIMIT_SECONDS', 7200, 1, 7 * 86_400) * 1000),
    lateCheckMs: num(env, 'LONGSHOT_UPSTREAM_LATE_CHECK_HOURS', 24, 0, 720) * 3_600_000,
    modelCheckMs: num(env, 'LONGSHOT_MODEL_CHECK_HOURS', 6, 0.0001, 720) * 3_600_000,
    breakerFailures: int(env, 'LONGSHOT_BREAKER_FAILURES', 5, 1, 1000),
    breakerCooldownMs: int(env, 'LONGSHOT_BREAKER_COOLDOWN_SECONDS', 60, 1, 86_400) * 1000,
  };
}

/** An operator-chosen admin token must be hard to guess: at least 32 characters, no spaces. */
function adminTokenSetting(env: Env): string | null {
  const raw = env.LONGSHOT_ADMIN_TOKEN?.trim();
  if (!raw) return null;
  if (raw.length < 32 || /\s/.test(raw)) {
    throw new ConfigError(
      'LONGSHOT_ADMIN_TOKEN is too weak: use at least 32 characters without spaces (or leave it unset to have one made at the first start)',
    );
  }
  return raw;
}

function str(env: Env, name: string, fallback: string): string {
  const v = env[name]?.trim();
  return v ? v : fallback;
}

function num(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) {
    throw new ConfigError(`${name}=${raw} is not valid: use a number from ${min} to ${max} (default ${fallback})`);
  }
  return v;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const v = num(env, name, fallback, min, max);
  if (!Number.isInteger(v)) throw new ConfigError(`${name}=${env[name]} is not valid: use a whole number (default ${fallback})`);
  return v;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name}=${env[name]} is not valid: use true or false`);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name}=${raw} is not valid: use one of ${allowed.join(', ')}`);
  }
  return raw as T;
}

function retrySchedule(env: Env, name: string, fallback: string): number[] {
  const raw = env[name]?.trim() || fallback;
  const parsed = parseRetrySchedule(raw);
  if (parsed === null) {
    throw new ConfigError(`${name}=${raw} is not valid: use comma-separated delays such as "${fallback}" (units ms, s, m, h, d; at most 20, each up to 7d)`);
  }
  return parsed;
}

/** Dollars in the environment, micro-dollars inside: exact for up to six decimals. */
function usd(env: Env, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return Math.round(fallback * 1_000_000);
  if (parseUsd(raw) === null) {
    throw new ConfigError(`${name}=${raw} is not valid: use a dollar amount such as 0.20 (at most 6 decimals)`);
  }
  return parseUsd(raw)!;
}

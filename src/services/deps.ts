import type { Logger } from 'pino';
import type { AdminAuth } from '../admin/admin-token.js';
import type { Config } from '../config.js';
import type { Db } from '../db/connect.js';
import type { ContentPolicy } from '../domain/moderation.js';
import type { EngineHealth, EngineStanding } from '../engines/health.js';
import type { EngineRegistry } from '../engines/registry.js';
import type { Metrics } from '../metrics/metrics.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { UrlSigner } from '../storage/url-signer.js';
import type { CallbackTransport } from '../webhooks/deliver.js';
import type { TaskEvents } from './task-events.js';

/** Time source, injected so tests can move it. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** What the use cases need, built once in main.ts and passed in. */
export interface Deps {
  config: Config;
  db: Db;
  clock: Clock;
  blobs: BlobStore;
  signer: UrlSigner;
  engines: EngineRegistry;
  /** This process's view of each engine (model checks, breaker); run-task consults it. */
  health: EngineHealth;
  /** Standings to report (/healthz): this process's own, or, without workers here, the workers' as stored. */
  engineStandings: () => EngineStanding[];
  log: Logger;
  /** The operator's token for /admin/v1, /console and /metrics. */
  admin: AdminAuth;
  /** This process's Prometheus registry and counters (GET /metrics). */
  metrics: Metrics;
  /** The local content policy checked before any engine runs. */
  contentPolicy: ContentPolicy;
  /** Base of absolute result URLs; set once at start, before the service reports ready. */
  publicUrl: string;
  /** Wakes long-poll and SSE readers of a task when its state changes in this process. */
  taskEvents: TaskEvents;
  /** Tells idle workers that a task is waiting (in-process; polling remains the truth). */
  wakeWorkers: () => void;
  /** Tells the webhook sender a delivery is due (in-process hint; it polls too). */
  wakeWebhooks: () => void;
  /** How callbacks reach receivers: tests inject a resolver and a CA; absent in production. */
  callbackTransport?: CallbackTransport;
}

import type { Generated } from 'kysely';

/** Row types of every table, shared by the SQLite and PostgreSQL dialects. Times are Unix ms. */
interface AccountsTable {
  id: string;
  name: string;
  webhook_secret: string;
  created_at: number;
  /** The secret before the last rotation; still signs deliveries until `previous_secret_expires_at`. */
  previous_webhook_secret: string | null;
  previous_secret_expires_at: number | null;
}

export interface ApiKeysTable {
  id: string;
  account_id: string;
  /** SHA-256 of the whole key, hex. The key itself is never stored. */
  key_hash: string;
  label: string | null;
  created_at: number;
  revoked_at: number | null;
  /** JSON array of models this key may use; null = all. */
  allowed_models: string | null;
  /** JSON array of route strategies this key may use; null = all. */
  allowed_strategies: string | null;
  /** Strategy for submits that name no `provider`; null = `auto`. */
  default_strategy: string | null;
  /** Limits; null = the service default, 0 = unlimited. */
  submit_rpm: number | null;
  status_rpm: number | null;
  max_unfinished: number | null;
  /** Spending budget per `budget_period` (captured + held by this key's tasks); 0 = none. */
  budget_micros: number;
  /** `day` or `month`: the UTC day or calendar month the budget renews with. */
  budget_period: string;
}

/**
 * A budgeted key's spend in one period: raised by each hold, lowered by each release (a capture
 * leaves it: held and captured both count). Seeded from the key's tasks when its budget is set.
 */
interface KeySpendTable {
  key_id: string;
  period: string;
  period_start: number;
  period_end: number;
  spent_micros: number;
}

/** A submit's `Idempotency-Key`, scoped to the API key, remembered for 24 h. */
interface IdempotencyKeysTable {
  api_key_id: string;
  idem_key: string;
  /** SHA-256 of the model and the canonical JSON body: the same key with another body is a 422. */
  request_hash: string;
  task_id: string;
  created_at: number;
}

type LedgerKind = 'credit' | 'hold' | 'capture' | 'release';

/** Append-only: balances are sums of these rows. */
interface LedgerEntriesTable {
  id: Generated<number>;
  account_id: string;
  kind: LedgerKind;
  amount_micros: number;
  task_id: string | null;
  note: string | null;
  created_at: number;
}

/** A running total of the ledger per account, updated in the same transaction as each entry. */
interface BalancesTable {
  account_id: string;
  credit_micros: number;
  held_micros: number;
  captured_micros: number;
}

/** The task row is also the queue entry: workers claim `pending` rows with a lease. */
export interface TasksTable {
  id: string;
  account_id: string;
  api_key_id: string;
  model: string;
  state: string;
  request_type: string;
  callback_url: string | null;
  /** Events the callback task asked for, comma-separated; null = its end only (docs/webhooks.md). */
  callback_events: string | null;
  /** When its last progress event was queued (at most one per 5 s). */
  progress_event_at: number | null;
  provider: string;
  /** The normalised input as JSON. */
  input: string;
  source_task_id: string | null;
  chain_depth: number;
  price_micros: number;
  create_time: number;
  start_time: number | null;
  complete_time: number | null;
  fail_code: string | null;
  fail_msg: string | null;
  attempts: number;
  /** Not claimable before this time (backoff after a lost lease). */
  run_after: number;
  lease_token: string | null;
  lease_expires_at: number | null;
  engine: string | null;
  result_key: string | null;
  poster_key: string | null;
  result_size: number | null;
  result_etag: string | null;
  duration_ms: number | null;
  width: number | null;
  height: number | null;
  /** When the result files are deleted by retention. */
  expires_at: number | null;
  deleted_at: number | null;
  /** Why the files are gone: `retention` (the sweep) or `request` (DELETE /api/v1/tasks/{taskId}); null = kept (or swept before 0008). */
  delete_reason: string | null;
  /** 0–100 while running (only ever raised, at most about once a second); null = not known. */
  progress: number | null;
}

/**
 * One webhook message for a finished task (the outbox row, written in the transaction that ends
 * the task; a redelivery adds another). `id` is the `webhook-id`, the same on every retry.
 * Senders claim due rows with a lease, like workers claim tasks.
 */
export interface WebhookDeliveriesTable {
  id: string;
  task_id: string;
  account_id: string;
  url: string;
  /** `settle` for the automatic delivery, `redeliver` for one asked for later. */
  trigger: string;
  /** `pending` (being tried), `delivered`, `failed` (retries used up) or `gone` (receiver said 410). */
  state: string;
  /** Attempts made so far. */
  attempts: number;
  /** Due time while pending; null once final. */
  next_attempt_at: number | null;
  lease_token: string | null;
  lease_expires_at: number | null;
  created_at: number;
  completed_at: number | null;
  last_status: number | null;
  last_error: string | null;
  /** `processing`, `progress`, `success` or `failed`; null = the task's end (rows before 0011). */
  event: string | null;
  /** The body as it was when a running task's event was queued; null = built at send time. */
  payload: string | null;
}

/** Append-only log of every attempt of a delivery. */
export interface WebhookAttemptsTable {
  id: string;
  delivery_id: string;
  attempt: number;
  started_at: number;
  duration_ms: number;
  /** HTTP status of the answer; null when there was none (refused, DNS, connect, TLS, timeout). */
  status_code: number | null;
  error: string | null;
  /** The delivery's state after this attempt, and when the next one is due (if any). */
  outcome: string;
  next_attempt_at: number | null;
}

/**
 * What an upstream engine knows of a task, beside the task row (kept off the hot status row):
 * the job reference saved before waiting (crash-safe resume) and the upstream's handle of the
 * finished video (for extensions).
 */
export interface TaskUpstreamTable {
  task_id: string;
  /** The engine instance that owns `ref` and `video`. */
  engine: string;
  /** Opaque to everyone but that engine; null once the job ended without a video. */
  ref: string | null;
  video: string | null;
  /** Last write, or the last late-outcome check of a job given up on. */
  updated_at: number;
  /** `completed` or `failed`: what a job given up on (TIMEOUT) turned out to do later; null while unknown. */
  late_outcome: string | null;
  late_outcome_at: number | null;
}

/** An engine instance's standing: model check, breaker, last error (docs/operations.md, engine health). */
export interface EngineHealthTable {
  engine: string;
  /** 1 while the engine's models and credentials are usable as far as known; else 0 with `reason`. */
  available: number;
  reason: string | null;
  fix: string | null;
  consecutive_failures: number;
  /** The breaker skips the engine until then (then one task probes it). */
  open_until: number | null;
  last_error: string | null;
  last_error_at: number | null;
  /** The last model check that reached the upstream. */
  checked_at: number | null;
  updated_at: number;
  /** `host:pid` of the process that wrote the row. */
  updated_by: string;
}

/** Append-only: one row per engine attempt of a task. */
interface EngineRunsTable {
  id: Generated<number>;
  engine: string;
  task_id: string;
  /** `success`, or the attempt's fail code. */
  outcome: string;
  latency_ms: number;
  finished_at: number;
  /** The task's model and mode (null for runs logged before migration 0009). */
  model: string | null;
  mode: string | null;
}

interface SettingsTable {
  key: string;
  value: string;
}

export interface Database {
  accounts: AccountsTable;
  api_keys: ApiKeysTable;
  ledger_entries: LedgerEntriesTable;
  balances: BalancesTable;
  tasks: TasksTable;
  settings: SettingsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  idempotency_keys: IdempotencyKeysTable;
  task_upstream: TaskUpstreamTable;
  engine_health: EngineHealthTable;
  engine_runs: EngineRunsTable;
  key_spend: KeySpendTable;
}

import { type Kysely, type Migration, type MigrationProvider, Migrator, PostgresAdapter, sql } from 'kysely';
import { QUIET_ROW_NOTIFY, ROWS_CHANNEL_SQL } from './pg-channels.js';
import type { Database } from './schema.js';

/**
 * Migrations live in code (not files) so the compiled package carries them. Kysely's schema
 * builder is used, so each one runs unchanged on SQLite and PostgreSQL; the one exception (0012,
 * a PostgreSQL trigger) says why.
 */
const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('accounts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('webhook_secret', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('key_hash', 'text', (c) => c.notNull().unique())
        .addColumn('label', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('api_keys_account').on('api_keys').column('account_id').execute();
      await db.schema
        .createTable('balances')
        .addColumn('account_id', 'text', (c) => c.primaryKey().references('accounts.id'))
        .addColumn('credit_micros', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('held_micros', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('captured_micros', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createTable('ledger_entries')
        .addColumn('id', isPostgres(db) ? 'bigserial' : 'integer', (c) => (isPostgres(db) ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('amount_micros', 'bigint', (c) => c.notNull())
        .addColumn('task_id', 'text')
        .addColumn('note', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('ledger_account').on('ledger_entries').columns(['account_id', 'id']).execute();
      // A task's hold is settled at most once: a second capture or release of it cannot be written.
      await db.schema
        .createIndex('ledger_one_entry_per_task_kind')
        .on('ledger_entries')
        .columns(['task_id', 'kind'])
        .unique()
        .where(sql.ref('task_id'), 'is not', null)
        .execute();
      await db.schema
        .createTable('tasks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('api_key_id', 'text', (c) => c.notNull())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('request_type', 'text', (c) => c.notNull())
        .addColumn('callback_url', 'text')
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('input', 'text', (c) => c.notNull())
        .addColumn('source_task_id', 'text')
        .addColumn('chain_depth', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('price_micros', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('create_time', 'bigint', (c) => c.notNull())
        .addColumn('start_time', 'bigint')
        .addColumn('complete_time', 'bigint')
        .addColumn('fail_code', 'text')
        .addColumn('fail_msg', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('run_after', 'bigint', (c) => c.notNull())
        .addColumn('lease_token', 'text')
        .addColumn('lease_expires_at', 'bigint')
        .addColumn('engine', 'text')
        .addColumn('result_key', 'text')
        .addColumn('poster_key', 'text')
        .addColumn('result_size', 'bigint')
        .addColumn('result_etag', 'text')
        .addColumn('duration_ms', 'integer')
        .addColumn('width', 'integer')
        .addColumn('height', 'integer')
        .addColumn('expires_at', 'bigint')
        .addColumn('deleted_at', 'bigint')
        .execute();
      // The queue: claim the oldest due pending task.
      await db.schema.createIndex('tasks_queue').on('tasks').columns(['state', 'run_after', 'id']).execute();
      await db.schema.createIndex('tasks_lease').on('tasks').columns(['state', 'lease_expires_at']).execute();
      await db.schema.createIndex('tasks_account').on('tasks').columns(['account_id', 'id']).execute();
      await db.schema.createIndex('tasks_expiry').on('tasks').columns(['deleted_at', 'expires_at']).execute();
      await db.schema
        .createTable('settings')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0002_webhooks': {
    async up(db: Kysely<any>) {
      // Secret rotation: the previous secret keeps signing (beside the new one) until it expires.
      await db.schema.alterTable('accounts').addColumn('previous_webhook_secret', 'text').execute();
      await db.schema.alterTable('accounts').addColumn('previous_secret_expires_at', 'bigint').execute();
      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('task_id', 'text', (c) => c.notNull())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'bigint')
        .addColumn('lease_token', 'text')
        .addColumn('lease_expires_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('completed_at', 'bigint')
        .addColumn('last_status', 'integer')
        .addColumn('last_error', 'text')
        .execute();
      // The sender's queue: the earliest due pending delivery.
      await db.schema.createIndex('webhook_deliveries_due').on('webhook_deliveries').columns(['state', 'next_attempt_at']).execute();
      await db.schema.createIndex('webhook_deliveries_task').on('webhook_deliveries').columns(['task_id', 'created_at']).execute();
      await db.schema
        .createTable('webhook_attempts')
        // A text id, not autoIncrement: Kysely compiles that keyword only for SQLite/MySQL.
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('delivery_id', 'text', (c) => c.notNull().references('webhook_deliveries.id'))
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('duration_ms', 'integer', (c) => c.notNull())
        .addColumn('status_code', 'integer')
        .addColumn('error', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('next_attempt_at', 'bigint')
        .execute();
      await db.schema.createIndex('webhook_attempts_delivery').on('webhook_attempts').columns(['delivery_id', 'attempt']).execute();
    },
  },
  '0003_key_permissions_and_idempotency': {
    async up(db: Kysely<any>) {
      // Permissions and limits per key; null means "the service default" (0 = unlimited).
      for (const [name, type] of [
        ['allowed_models', 'text'],
        ['allowed_strategies', 'text'],
        ['default_strategy', 'text'],
        ['submit_rpm', 'integer'],
        ['status_rpm', 'integer'],
        ['max_unfinished', 'integer'],
      ] as const) {
        await db.schema.alterTable('api_keys').addColumn(name, type).execute();
      }
      // The unfinished-task limit counts a key's pending and processing tasks.
      await db.schema.createIndex('tasks_key_state').on('tasks').columns(['api_key_id', 'state']).execute();
      await db.schema
        .createTable('idempotency_keys')
        .addColumn('api_key_id', 'text', (c) => c.notNull())
        .addColumn('idem_key', 'text', (c) => c.notNull())
        .addColumn('request_hash', 'text', (c) => c.notNull())
        .addColumn('task_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_keys_pk', ['api_key_id', 'idem_key'])
        .execute();
      await db.schema.createIndex('idempotency_keys_created').on('idempotency_keys').column('created_at').execute();
    },
  },
  '0004_upstream': {
    async up(db: Kysely<any>) {
      // An upstream engine's job reference and video handle per task (docs/gemini.md).
      await db.schema
        .createTable('task_upstream')
        .addColumn('task_id', 'text', (c) => c.primaryKey())
        .addColumn('engine', 'text', (c) => c.notNull())
        .addColumn('ref', 'text')
        .addColumn('video', 'text')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  '0005_engine_health': {
    async up(db: Kysely<any>) {
      // The latest standing of each engine instance, as the process that last changed it saw it.
      await db.schema
        .createTable('engine_health')
        .addColumn('engine', 'text', (c) => c.primaryKey())
        .addColumn('available', 'integer', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('fix', 'text')
        .addColumn('consecutive_failures', 'integer', (c) => c.notNull())
        .addColumn('open_until', 'bigint')
        .addColumn('last_error', 'text')
        .addColumn('last_error_at', 'bigint')
        .addColumn('checked_at', 'bigint')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_by', 'text', (c) => c.notNull())
        .execute();
      // One row per engine attempt of a task (a failover makes several): success rate and latency.
      await db.schema
        .createTable('engine_runs')
        .addColumn('id', isPostgres(db) ? 'bigserial' : 'integer', (c) => (isPostgres(db) ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('engine', 'text', (c) => c.notNull())
        .addColumn('task_id', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('latency_ms', 'bigint', (c) => c.notNull())
        .addColumn('finished_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('engine_runs_engine_finished').on('engine_runs').columns(['engine', 'finished_at']).execute();
      await db.schema.createIndex('engine_runs_finished').on('engine_runs').column('finished_at').execute();
    },
  },
  '0006_key_budgets': {
    async up(db: Kysely<any>) {
      // A key's budget per UTC day or month; 0 = none.
      await db.schema
        .alterTable('api_keys')
        .addColumn('budget_micros', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable('api_keys')
        .addColumn('budget_period', 'text', (c) => c.notNull().defaultTo('day'))
        .execute();
      // What a budgeted key's tasks hold or captured in one period: the submit's budget check is
      // one conditional UPDATE of this row, in the transaction that places the hold.
      await db.schema
        .createTable('key_spend')
        .addColumn('key_id', 'text', (c) => c.notNull().references('api_keys.id'))
        .addColumn('period', 'text', (c) => c.notNull())
        .addColumn('period_start', 'bigint', (c) => c.notNull())
        .addColumn('period_end', 'bigint', (c) => c.notNull())
        .addColumn('spent_micros', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('key_spend_pk', ['key_id', 'period', 'period_start'])
        .execute();
    },
  },
  '0007_task_lists': {
    async up(db: Kysely<any>) {
      // Task lists (docs/api.md): an account's tasks in one state, newest first (ids are time-ordered).
      await db.schema.createIndex('tasks_account_state').on('tasks').columns(['account_id', 'state', 'id']).execute();
      // Usage per day: tasks submitted and ended in a time range, of one account or of all.
      await db.schema.createIndex('tasks_account_created').on('tasks').columns(['account_id', 'create_time']).execute();
      await db.schema.createIndex('tasks_account_completed').on('tasks').columns(['account_id', 'complete_time']).execute();
      await db.schema.createIndex('tasks_created').on('tasks').column('create_time').execute();
      await db.schema.createIndex('tasks_completed').on('tasks').column('complete_time').execute();
      // Lineage: a task's direct extensions. Most tasks extend nothing, so only extensions are indexed.
      await db.schema.createIndex('tasks_source').on('tasks').column('source_task_id').where(sql.ref('source_task_id'), 'is not', null).execute();
    },
  },
  '0008_task_deletion': {
    async up(db: Kysely<any>) {
      // Why a task's files are gone (docs/api.md, deleting a task): `retention` (the sweep) or
      // `request` (DELETE /api/v1/tasks/{taskId}); null while they are kept. Rows the sweep marked
      // before this column existed read as retention.
      await db.schema.alterTable('tasks').addColumn('delete_reason', 'text').execute();
    },
  },
  '0009_task_progress': {
    async up(db: Kysely<any>) {
      // A running task's progress, 0–100 (docs/api.md, progress): written by its worker at most
      // about once a second and only ever raised, so a retry never shows less.
      await db.schema.alterTable('tasks').addColumn('progress', 'integer').execute();
      // Recent durations per model and mode (progress estimates, etaSeconds); null before 0009.
      await db.schema.alterTable('engine_runs').addColumn('model', 'text').execute();
      await db.schema.alterTable('engine_runs').addColumn('mode', 'text').execute();
    },
  },
  '0010_cancel_and_late_outcomes': {
    async up(db: Kysely<any>) {
      // An upstream job we gave up on (TIMEOUT at the hard limit) that finished anyway: `completed`
      // (the upstream made the video and may bill it; the client was not charged) or `failed`, and
      // when the maintenance loop saw it (docs/operations.md, unknown upstream outcomes).
      await db.schema.alterTable('task_upstream').addColumn('late_outcome', 'text').execute();
      await db.schema.alterTable('task_upstream').addColumn('late_outcome_at', 'bigint').execute();
    },
  },
  '0011_callback_events': {
    async up(db: Kysely<any>) {
      // The events a callback task asked for (docs/webhooks.md, events): comma-separated; null =
      // the default, its end only, as before the field existed.
      await db.schema.alterTable('tasks').addColumn('callback_events', 'text').execute();
      // When the task's last progress event was queued: at most one per 5 s per task, across processes.
      await db.schema.alterTable('tasks').addColumn('progress_event_at', 'bigint').execute();
      // Which event a delivery carries (null before 0011: the task's end), and for events sent
      // while the task runs, the body as it was then (null: built at send time, as before).
      await db.schema.alterTable('webhook_deliveries').addColumn('event', 'text').execute();
      await db.schema.alterTable('webhook_deliveries').addColumn('payload', 'text').execute();
      // One task's events go out in order: the sender looks for an earlier one still waiting, on
      // the (task_id, created_at) index of 0002.
    },
  },
  '0012_task_row_notify': {
    async up(db: Kysely<any>) {
      // PostgreSQL only (raw SQL: the schema builder has no triggers). Every update and delete of
      // a task sends its id on the rows channel from inside the writing transaction, delivered at
      // its commit, whoever wrote it: the status row cache of every API process drops that row
      // (db/pg-task-cache.ts). SQLite's cache sees commits in the wal-index instead.
      if (!isPostgres(db)) return;
      await sql.raw(rowNotifyFunction(`perform pg_notify(${ROWS_CHANNEL_SQL}, old.id);`)).execute(db);
      await sql`create trigger longshot_task_row_changed after update or delete on tasks for each row execute function longshot_task_row_changed()`.execute(db);
    },
  },
  '0014_queue_partial_indexes': {
    async up(db: Kysely<any>) {
      // A claim and a settle each write a new version of the task row that changes an indexed
      // column (state), so PostgreSQL adds an entry to every index of the table for it
      // (docs/performance.md, claims and settles on PostgreSQL). These four indexes only serve
      // queries that compare the column, which never match null: indexing only the rows where it
      // is set answers the same queries and skips the entries a claim (no completion or
      // retention time yet) or a settle (no lease any more) would add.
      const partial: Array<[name: string, columns: string[], setColumn: string]> = [
        ['tasks_lease', ['state', 'lease_expires_at'], 'lease_expires_at'],
        ['tasks_expiry', ['deleted_at', 'expires_at'], 'expires_at'],
        ['tasks_completed', ['complete_time'], 'complete_time'],
        ['tasks_account_completed', ['account_id', 'complete_time'], 'complete_time'],
      ];
      for (const [name, columns, setColumn] of partial) {
        await db.schema.dropIndex(name).execute();
        await db.schema.createIndex(name).on('tasks').columns(columns).where(sql.ref(setColumn), 'is not', null).execute();
      }
    },
  },
  '0015_task_row_notify_quiet': {
    async up(db: Kysely<any>) {
      // PostgreSQL only. A writer may silence 0012's trigger for its own transaction
      // (`longshot.quiet_row_notify` on, pg-channels.ts) when it sends the row's NOTIFY itself
      // after the commit: PostgreSQL holds one database-wide lock from a notifying commit's start
      // to its end, WAL flush included, so every settle's flush otherwise waits for the one before
      // it (docs/performance.md, claims and settles on PostgreSQL). Every other writer, the CLI
      // and psql included, still notifies from the trigger.
      if (!isPostgres(db)) return;
      await sql
        .raw(
          rowNotifyFunction(
            `if current_setting('${QUIET_ROW_NOTIFY}', true) is distinct from 'on' then perform pg_notify(${ROWS_CHANNEL_SQL}, old.id); end if;`,
          ),
        )
        .execute(db);
    },
  },
  '0016_queue_index_pending_only': {
    async up(db: Kysely<any>) {
      // The queue index held every task, by (state, run_after, id). PostgreSQL's planner then took
      // it for the compare-and-set writes of a running task (`id = ? and state = 'processing'`:
      // statistics that see few processing rows make the state's range look cheaper than the
      // primary key), and that range walked every dead entry claims and settles had left since
      // the last vacuum: the settle's own lookup was most of PostgreSQL's CPU in the queue bench
      // (docs/performance.md, claims and settles). Pending tasks only, which is all the claim and
      // the queue position read, and writes of processing and finished rows add no entry to it.
      // Queries reach it with the literal `state = 'pending'`, which a partial index needs.
      await db.schema.dropIndex('tasks_queue').execute();
      await db.schema.createIndex('tasks_queue').on('tasks').columns(['run_after', 'id']).where(sql.ref('state'), '=', sql.lit('pending')).execute();
    },
  },
};

/** The row trigger's function (PostgreSQL) with `body` before its `return null`. */
const rowNotifyFunction = (body: string): string =>
  `create or replace function longshot_task_row_changed() returns trigger language plpgsql as $$ begin ${body} return null; end $$`;

/** The few column types that differ by dialect are chosen here; everything else is shared. */
function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Brings the schema up to date; safe to run from several processes (the migrator locks). */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  // On PostgreSQL the migrator must look in the schema we write to, not any schema with such a table.
  const schema = isPostgres(db) ? (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]?.s : undefined;
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: 'longshot_migrations',
    migrationLockTableName: 'longshot_migration_lock',
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

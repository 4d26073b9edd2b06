import { sql } from 'kysely';

/**
 * NOTIFY channel names. NOTIFY reaches every session of the database, not of the schema, so
 * channels are named after the schema and services sharing a database (tests, staging beside
 * production) do not hear each other. The row trigger of migration 0012 builds the same name in
 * SQL from its table's schema ({@link ROWS_CHANNEL_SQL}); the two must stay the same function.
 */
export const channelPrefix = (schema: string): string => `longshot_${schema.replace(/[^a-zA-Z0-9_]/gu, '_')}`.slice(0, 50);

/** The channel of task row writes (update, delete) for the status row cache (db/pg-task-cache.ts). */
export const ROWS = 'rows';

/** {@link channelPrefix} of the trigger's own table schema, plus `_rows`, in SQL. */
export const ROWS_CHANNEL_SQL = `left('longshot_' || regexp_replace(TG_TABLE_SCHEMA, '[^a-zA-Z0-9_]', '_', 'g'), 50) || '_${ROWS}'`;

/**
 * A setting a transaction turns on (`set_config(…, 'on', true)`) to keep migration 0015's trigger
 * from notifying its task writes, when the writer sends the rows channel's NOTIFY itself after
 * the commit (services/settle-task.ts).
 */
export const QUIET_ROW_NOTIFY = 'longshot.quiet_row_notify';

/**
 * A WHERE condition (always true) that turns {@link QUIET_ROW_NOTIFY} on for the rest of the
 * statement's transaction, so the trigger stays silent for the rows it writes.
 */
export const quietRowWrite = sql<boolean>`set_config(${sql.lit(QUIET_ROW_NOTIFY)}, 'on', true) is not null`;

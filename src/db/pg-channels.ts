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

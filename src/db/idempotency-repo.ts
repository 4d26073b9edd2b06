import type { Kysely } from 'kysely';
import type { Db } from './connect.js';
import { perDb, prepareSql } from './prepared-sql.js';
import type { Database } from './schema.js';

export interface IdempotencyRecord {
  request_hash: string;
  task_id: string;
}

/**
 * The remembered submit for this API key and Idempotency-Key, if it is younger than `since`. Every
 * submit that carries a key asks this first (Longshot's own client sends one with each), so on
 * PostgreSQL it is a named statement, planned once per connection.
 */
export async function findIdempotent(db: Db, apiKeyId: string, idemKey: string, since: number): Promise<IdempotencyRecord | undefined> {
  const q = findSqlOf(db);
  return db.selectOne<IdempotencyRecord>(q.text, q.params(apiKeyId, idemKey, since));
}

const findSqlOf = perDb((db) =>
  prepareSql(
    (apiKeyId: string, idemKey: string, since: number) =>
      db.kysely
        .selectFrom('idempotency_keys')
        .select(['request_hash', 'task_id'])
        .where('api_key_id', '=', apiKeyId)
        .where('idem_key', '=', idemKey)
        .where('created_at', '>=', since),
    '\u0000key',
    '\u0000idem',
    -1.5,
  ),
);

/**
 * Remembers a submit inside its transaction. A record older than the window is replaced; a
 * current one makes the insert fail, which rolls the whole submit back (a concurrent duplicate).
 */
export async function rememberIdempotent(
  trx: Kysely<Database>,
  apiKeyId: string,
  idemKey: string,
  requestHash: string,
  taskId: string,
  now: number,
  since: number,
): Promise<void> {
  await trx.deleteFrom('idempotency_keys').where('api_key_id', '=', apiKeyId).where('idem_key', '=', idemKey).where('created_at', '<', since).execute();
  await trx
    .insertInto('idempotency_keys')
    .values({ api_key_id: apiKeyId, idem_key: idemKey, request_hash: requestHash, task_id: taskId, created_at: now })
    .execute();
}

/** Drops records past the window; run by maintenance. */
export async function deleteOldIdempotency(db: Db, before: number): Promise<number> {
  const res = await db.kysely.deleteFrom('idempotency_keys').where('created_at', '<', before).executeTakeFirst();
  return Number(res.numDeletedRows);
}

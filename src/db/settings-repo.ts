import { randomBytes } from 'node:crypto';
import type { Db } from './connect.js';

/**
 * Returns the stored value of `key`, creating it with `make()` the first time. Several processes
 * may race here; the insert ignores conflicts and everyone reads back the one value that won.
 */
async function getOrCreateSetting(db: Db, key: string, make: () => string): Promise<string> {
  await db.kysely
    .insertInto('settings')
    .values({ key, value: make() })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const row = await db.kysely.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirstOrThrow();
  return row.value;
}

/** The secret that signs result URLs; shared through the database by every process. */
export function urlSigningKey(db: Db): Promise<string> {
  return getOrCreateSetting(db, 'url_signing_key', () => randomBytes(32).toString('base64url'));
}

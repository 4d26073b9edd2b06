import type { Db } from './connect.js';

/**
 * An account's webhook signing secrets (columns of `accounts`). A rotation keeps the previous
 * secret signing beside the new one for an overlap, so receivers can switch without a window in
 * which valid deliveries fail verification.
 */
export interface WebhookSecrets {
  current: string;
  /** The secret before the last rotation while it is still valid, else null. */
  previous: string | null;
  previousExpiresAt: number | null;
}

export async function getWebhookSecrets(db: Db, accountId: string, now: number): Promise<WebhookSecrets | undefined> {
  const row = await db.kysely
    .selectFrom('accounts')
    .select(['webhook_secret', 'previous_webhook_secret', 'previous_secret_expires_at'])
    .where('id', '=', accountId)
    .executeTakeFirst();
  if (!row) return undefined;
  const live = row.previous_webhook_secret !== null && row.previous_secret_expires_at !== null && Number(row.previous_secret_expires_at) > now;
  return {
    current: row.webhook_secret,
    previous: live ? row.previous_webhook_secret : null,
    previousExpiresAt: live ? Number(row.previous_secret_expires_at) : null,
  };
}

/** The secrets a delivery is signed with now: the current one first, then a still-valid previous one. */
export function signingSecrets(s: WebhookSecrets): string[] {
  return s.previous ? [s.current, s.previous] : [s.current];
}

/**
 * Makes `next` the account's secret; the old one keeps signing until `now + overlapMs` (0: it
 * stops at once). A rotation during an overlap drops the older previous secret.
 */
export async function rotateWebhookSecret(db: Db, accountId: string, next: string, now: number, overlapMs: number): Promise<void> {
  await db.writeTx(async (trx) => {
    const row = await trx.selectFrom('accounts').select('webhook_secret').where('id', '=', accountId).executeTakeFirstOrThrow();
    await trx
      .updateTable('accounts')
      .set({
        webhook_secret: next,
        previous_webhook_secret: overlapMs > 0 ? row.webhook_secret : null,
        previous_secret_expires_at: overlapMs > 0 ? now + overlapMs : null,
      })
      .where('id', '=', accountId)
      .execute();
  });
}

/** Ends a rotation's overlap now: only the current secret signs from here on. */
export async function expirePreviousSecret(db: Db, accountId: string): Promise<boolean> {
  const res = await db.kysely
    .updateTable('accounts')
    .set({ previous_webhook_secret: null, previous_secret_expires_at: null })
    .where('id', '=', accountId)
    .where('previous_webhook_secret', 'is not', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

import type { LedgerEntry } from '../db/ledger-repo.js';
import { microsToUsd } from '../domain/money.js';

/** A ledger entry as the API shows it, on the account's own ledger route and the operator's. */
export function ledgerEntryView(r: LedgerEntry) {
  return { id: String(r.id), kind: r.kind, amount: microsToUsd(r.amount_micros), taskId: r.task_id, note: r.note, createTime: r.created_at };
}

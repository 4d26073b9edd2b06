import type { Db } from '../db/connect.js';
import { capturesByModel, lastLedgerId } from '../db/metrics-repo.js';

/**
 * Money captured per model, summed from the ledger's `capture` entries, so every process and a
 * restarted one report the same totals. Summing the whole ledger at every scrape is a join over
 * all of it (2.3 s of blocked event loop on SQLite at a million tasks), so the sum is kept and
 * only entries past the part already summed are read: the ledger is append-only and its ids
 * only grow.
 *
 * On SQLite ids become visible in order (one writer), so everything up to the last id is final.
 * On PostgreSQL a sequence hands out ids before commit, so a settle that commits late can appear
 * below ids already seen; entries are therefore only folded into the kept sum once they were the
 * newest a minute ago, and the newer ones are summed afresh at each scrape. A settle would have
 * to stay uncommitted for that minute to be missed (and only until this process restarts).
 */
export interface CapturedTotals {
  /** Captured micro-dollars per model. */
  read(): Promise<Map<string, number>>;
}

/** Ledger ids per query while catching up: ≈ 15 ms of SQLite each, with the event loop free between them. */
const CHUNK_IDS = 20_000;

export function createCapturedTotals(db: Db, opts: { settleMs?: number; now?: () => number } = {}): CapturedTotals {
  const settleMs = opts.settleMs ?? (db.dialect === 'postgres' ? 60_000 : 0);
  const now = opts.now ?? (() => performance.now());
  const kept = new Map<string, number>();
  /** Every capture with an id up to this is in `kept`. */
  let folded = 0;
  /** The ledger's last id as seen at earlier reads, oldest first. */
  const seen: Array<{ at: number; id: number }> = [];
  let reading: Promise<Map<string, number>> | null = null;

  const sumRange = async (after: number, upTo: number, into: Map<string, number>, onChunk?: (to: number) => void): Promise<void> => {
    for (let from = after; from < upTo; ) {
      const to = Math.min(upTo, from + CHUNK_IDS);
      for (const r of await capturesByModel(db, from, to)) into.set(r.model, (into.get(r.model) ?? 0) + r.micros);
      onChunk?.(to);
      from = to;
      // SQLite answers synchronously: let the requests that arrived meanwhile in.
      if (from < upTo) await new Promise((resolve) => setImmediate(resolve));
    }
  };

  const read = async (): Promise<Map<string, number>> => {
    const last = await lastLedgerId(db);
    const at = now();
    seen.push({ at, id: last });
    let horizon = folded;
    while (seen.length > 0 && seen[0]!.at <= at - settleMs) horizon = Math.max(horizon, seen.shift()!.id);
    // Folded chunk by chunk, so a read cut short (a fault, a scrape timeout) keeps its progress.
    await sumRange(folded, horizon, kept, (to) => {
      folded = to;
    });
    const totals = new Map(kept);
    await sumRange(folded, last, totals);
    return totals;
  };

  return {
    read() {
      // Concurrent scrapes share one read; a fold must not run twice over the same ids.
      reading ??= read().finally(() => {
        reading = null;
      });
      return reading;
    },
  };
}

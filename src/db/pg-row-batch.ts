import DataLoader from 'dataloader';

/**
 * How to read many rows of a single-row read `where id = $1 and <owner> = $2` in one statement:
 * `text` selects the same columns and then the owner column, at `ownerAt`, with `$1` an array of
 * ids (`where id = any($1::text[])`).
 */
export interface RowBatch {
  text: string;
  ownerAt: number;
}

/** Ids read at most per statement; a bound on one statement's parameters and rows. */
const MAX_BATCH = 256;

/**
 * Reads of single rows by id, issued from many requests in the same turn of the event loop,
 * sent to PostgreSQL as one statement. Under load a status poll that misses the row cache costs
 * the API process more in the client's write and read system calls than in anything else
 * (measured: docs/performance.md); sharing one round trip between the polls of a turn shares
 * them too. DataLoader (graphql/dataloader) does the collecting; its own cache is off (the row
 * cache decides what may be kept), and a batch waits for the end of the current I/O phase
 * (setImmediate) so requests parsed from different sockets in one poll phase join it.
 */
export function pgRowBatcher(query: (text: string, ids: readonly string[]) => Promise<unknown[][]>) {
  const loaders = new Map<string, DataLoader<string, unknown[] | undefined>>();
  const loaderOf = (text: string) => {
    let loader = loaders.get(text);
    if (loader === undefined) {
      loader = new DataLoader<string, unknown[] | undefined>(
        async (ids) => {
          const byId = new Map<unknown, unknown[]>();
          for (const row of await query(text, ids)) byId.set(row[0], row);
          return ids.map((id) => byId.get(id));
        },
        { cache: false, maxBatchSize: MAX_BATCH, batchScheduleFn: (run) => setImmediate(run) },
      );
      loaders.set(text, loader); // one per compiled batch statement, never ad-hoc SQL
    }
    return loader;
  };
  /** Row `id`'s values if its owner column equals `owner` (another account's row is none). */
  return async (batch: RowBatch, id: string, owner: unknown): Promise<unknown[] | undefined> => {
    const row = await loaderOf(batch.text).load(id);
    return row !== undefined && row[batch.ownerAt] === owner ? row : undefined;
  };
}

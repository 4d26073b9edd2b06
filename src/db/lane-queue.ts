/** Jobs that share one batch, at most; bounds the latency a batch adds. */
const MAX_BATCH = 256;

/**
 * The queue in front of a batched writer (group-commit.ts, pg-submit-batch.ts): jobs wait in the
 * lane of their key; a lane runs one batch at a time, of the jobs asked for while the previous one
 * ran or in the same turn of the event loop (requests parsed in one I/O phase join it), up to
 * MAX_BATCH. `run` answers every job of its batch itself, whatever happens; `order` may reorder a
 * batch first. Returns the function that enqueues a job.
 */
export function laneQueue<J>(lanes: number, keyOf: (job: J) => string, run: (batch: J[]) => Promise<void>, order?: (batch: J[]) => J[]): (job: J) => void {
  const all = Array.from({ length: Math.max(1, lanes) }, () => ({ queue: [] as J[], scheduled: false }));
  const drain = async (lane: (typeof all)[number]) => {
    while (lane.queue.length > 0) {
      let batch = lane.queue.length <= MAX_BATCH ? lane.queue : lane.queue.slice(0, MAX_BATCH);
      lane.queue = lane.queue.length <= MAX_BATCH ? [] : lane.queue.slice(MAX_BATCH);
      if (order && batch.length > 1) batch = order(batch);
      await run(batch);
    }
    lane.scheduled = false;
  };
  return (job) => {
    const lane = all.length === 1 ? all[0]! : all[laneOf(keyOf(job), all.length)]!;
    lane.queue.push(job);
    if (!lane.scheduled) {
      lane.scheduled = true;
      setImmediate(() => void drain(lane));
    }
  };
}

/** FNV-1a of the key: a fixed lane per key, spread evenly enough over a handful of lanes. */
function laneOf(key: string, lanes: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % lanes;
}

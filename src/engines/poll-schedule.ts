/**
 * When to ask an upstream again whether a job is done.
 *
 * Longshot's own latency on an upstream task is the time from the upstream finishing to our next
 * poll. Polling every `denseMs` bounds it by `denseMs` (median about half of it) at one poll per
 * `denseMs`. Most of a Veo job's life is spent before it can possibly be done, so polls are
 * sparse until the fastest recent jobs of the same kind finished (their 5th percentile) and dense
 * from there on: the same bound on added latency for nearly every job, with fewer polls.
 * Measured in bench/upstream.mjs (docs/performance.md).
 */
export interface PollPolicy {
  /** Interval once a job may be done (and with too little history to say when). */
  denseMs: number;
  /** Longest single wait before that. */
  sparseMaxMs: number;
}

/** Completion times seen before the dense phase starts. */
const MIN_SAMPLES = 5;
const START_QUANTILE = 0.05;

/** Recent completion times (submit → done) of one engine's jobs of one kind, newest kept. */
export class LatencyHistory {
  private readonly samples: number[] = [];
  private sorted: number[] | null = null;

  constructor(private readonly capacity = 200) {}

  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.samples.push(ms);
    if (this.samples.length > this.capacity) this.samples.shift();
    this.sorted = null;
  }

  get size(): number {
    return this.samples.length;
  }

  /** The q-quantile (nearest rank), or null without samples. */
  quantile(q: number): number | null {
    if (this.samples.length === 0) return null;
    this.sorted ??= [...this.samples].sort((a, b) => a - b);
    const i = Math.min(this.sorted.length - 1, Math.max(0, Math.ceil(q * this.sorted.length) - 1));
    return this.sorted[i]!;
  }
}

/**
 * The wait before the next poll of a job submitted `elapsedMs` ago. `retryAfterMs` (from the
 * upstream's last answer) is a floor: an upstream that asks for patience gets it.
 */
export function nextPollDelay(elapsedMs: number, history: LatencyHistory, policy: PollPolicy, retryAfterMs?: number): number {
  let wait = policy.denseMs;
  const start = history.size >= MIN_SAMPLES ? history.quantile(START_QUANTILE) : null;
  if (start !== null && elapsedMs + policy.denseMs < start) {
    wait = Math.min(policy.sparseMaxMs, Math.max(policy.denseMs, start - elapsedMs));
  }
  return Math.max(wait, retryAfterMs ?? 0);
}

/** One history per engine model (fast and quality jobs take different times), made on first use. */
export class LatencyHistories {
  private readonly byKey = new Map<string, LatencyHistory>();

  for(key: string): LatencyHistory {
    let h = this.byKey.get(key);
    if (!h) {
      h = new LatencyHistory();
      this.byKey.set(key, h);
    }
    return h;
  }
}

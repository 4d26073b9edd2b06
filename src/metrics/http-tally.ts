import { Counter, type Histogram, type Registry } from 'prom-client';

/**
 * HTTP requests by route pattern and status, and their durations by route, counted in plain
 * numbers. prom-client's own `inc`/`observe` hash a label set and build objects on every call
 * (≈ 1.2 µs together), a few per cent of a status poll answered by the fast path; here a request
 * costs two Map lookups (none when the caller holds its slot) and a few additions, and prom-client
 * reads the numbers only at scrape time.
 */

/** Request durations, s: the status poll answers in well under a millisecond, a submit in a few. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

class RouteTally {
  /** Observations per bucket (not cumulative); the last cell is above every bound (+Inf). */
  readonly buckets = new Float64Array(BUCKETS.length + 1);
  sum = 0;
  count = 0;
  readonly statuses = new Map<number, Slot>();

  constructor(readonly route: string) {}

  observe(seconds: number): void {
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    this.buckets[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

/** One (route, status) pair: what a request records itself into. */
class Slot {
  count = 0;
  /** The part of `count` already handed to prom-client's counter. */
  reported = 0;

  constructor(
    private readonly tally: RouteTally,
    readonly status: number,
  ) {}

  /** One answered request; `seconds` null for an answer held open on purpose (wait=, SSE). */
  record(seconds: number | null): void {
    this.count++;
    if (seconds !== null) this.tally.observe(seconds);
  }
}

export interface HttpTally {
  /** The slot of `route` (a route pattern, never a raw URL) and `status`; made once, then the same object. */
  slot(route: string, status: number): { record(seconds: number | null): void };
}

/** Registers `longshot_http_requests_total` and `longshot_http_request_duration_seconds` on `registry`. */
export function createHttpTally(registry: Registry): HttpTally {
  const routes = new Map<string, RouteTally>();
  const slot = (route: string, status: number): Slot => {
    let r = routes.get(route);
    if (r === undefined) {
      r = new RouteTally(route);
      routes.set(route, r);
    }
    let s = r.statuses.get(status);
    if (s === undefined) {
      s = new Slot(r, status);
      r.statuses.set(status, s);
    }
    return s;
  };

  new Counter({
    name: 'longshot_http_requests_total',
    help: 'HTTP requests answered by this process, by route pattern and status (the status fast path included).',
    labelNames: ['route', 'status'],
    registers: [registry],
    collect() {
      for (const r of routes.values()) {
        for (const s of r.statuses.values()) {
          const delta = s.count - s.reported;
          if (delta === 0) continue;
          this.inc({ route: r.route, status: String(s.status) }, delta);
          s.reported += delta;
        }
      }
    },
  });

  // prom-client has no way to hand a histogram counts kept elsewhere, so this one is its own
  // metric object: the shape its registry formats (what its Histogram's get() returns).
  const name = 'longshot_http_request_duration_seconds';
  const durations = {
    name,
    help: 'Duration of HTTP requests answered by this process, by route pattern, s (answers held open on purpose — wait=, SSE — are not observed).',
    type: 'histogram',
    aggregator: 'sum',
    labelNames: ['route'],
    collect: undefined,
    get: async () => ({ name, help: durations.help, type: 'histogram', aggregator: 'sum', values: histogramValues(name, routes.values()) }),
    reset: () => undefined,
  };
  registry.registerMetric(durations as unknown as Histogram);
  return { slot };
}

interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

function histogramValues(name: string, routes: Iterable<RouteTally>): Sample[] {
  const out: Sample[] = [];
  for (const r of routes) {
    if (r.count === 0) continue;
    let cumulative = 0;
    for (let i = 0; i < BUCKETS.length; i++) {
      cumulative += r.buckets[i]!;
      out.push({ metricName: `${name}_bucket`, labels: { route: r.route, le: BUCKETS[i]! }, value: cumulative });
    }
    out.push({ metricName: `${name}_bucket`, labels: { route: r.route, le: '+Inf' }, value: r.count });
    out.push({ metricName: `${name}_sum`, labels: { route: r.route }, value: r.sum });
    out.push({ metricName: `${name}_count`, labels: { route: r.route }, value: r.count });
  }
  return out;
}

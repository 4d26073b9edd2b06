/**
 * A local render's progress over its ffmpeg steps, which may run in parallel: each step has a
 * weight (about its share of the work) and reports its output time against the duration it will
 * write; the whole is the weighted mean of the steps' fractions. Reported through
 * `EngineRunContext.progress` (docs/api.md, progress).
 */
export class StepProgress {
  private readonly fractions = new Map<string, number>();
  private readonly total: number;

  constructor(
    private readonly report: ((fraction: number) => void) | undefined,
    private readonly weights: Readonly<Record<string, number>>,
  ) {
    this.total = Object.values(weights).reduce((a, b) => a + b, 0);
  }

  /** For runFfmpeg's `onProgress`: step `name` will write `durationSec` of output. */
  track(name: string, durationSec: number): ((outSeconds: number) => void) | undefined {
    if (this.report === undefined || durationSec <= 0) return undefined;
    return (out) => this.set(name, out / durationSec);
  }

  /** Marks a step whose own progress is not followed done once `work` resolves. */
  after<T>(name: string, work: Promise<T>): Promise<T> {
    return work.then((v) => {
      this.set(name, 1);
      return v;
    });
  }

  private set(name: string, fraction: number): void {
    if (this.report === undefined || !(this.total > 0)) return;
    const f = Math.min(1, Math.max(0, fraction));
    if (f <= (this.fractions.get(name) ?? 0)) return;
    this.fractions.set(name, f);
    let sum = 0;
    for (const [step, done] of this.fractions) sum += (this.weights[step] ?? 0) * done;
    this.report(sum / this.total);
  }
}

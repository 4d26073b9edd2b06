import { findGivenUpJobs, recordLateOutcome, touchGivenUpJob } from '../db/upstream-repo.js';
import type { Mode, Model } from '../domain/models.js';
import type { Deps } from '../services/deps.js';

/** Jobs asked about per round; the rest wait for the next round. */
const BATCH = 20;
/** One upstream question may take this long (the engine's own HTTP retries included). */
const CHECK_TIMEOUT_MS = 60_000;
/** A job is asked about once per this many slow-poll intervals: every 5 min by default, 288 questions a day. */
const CHECK_EVERY_POLLS = 10;

/**
 * Asks the upstream about jobs whose task failed with TIMEOUT (the hold was released, the client
 * charged nothing), each at most once per ten slow-poll intervals (LONGSHOT_UPSTREAM_POLL_MAX_MS) for
 * LONGSHOT_UPSTREAM_LATE_CHECK_HOURS after the task ended. A job that finished anyway is recorded
 * on the task (task_upstream.late_outcome, in the admin task view), logged, and, when it made a
 * video, counted in longshot_upstream_late_completions_total: money the upstream may bill that no
 * client pays. The client is never charged after the fact. Returns the outcomes recorded.
 */
export async function checkLateOutcomes(deps: Deps): Promise<number> {
  const { lateCheckMs, pollMaxMs } = deps.config.upstream;
  if (lateCheckMs <= 0) return 0;
  const now = deps.clock.now();
  let recorded = 0;
  for (const job of await findGivenUpJobs(deps.db, now - lateCheckMs, now - CHECK_EVERY_POLLS * pollMaxMs + 1, BATCH)) {
    const engine = deps.engines.byName(job.engine);
    let mode: Mode = 'fast';
    try {
      mode = (JSON.parse(job.input) as { mode?: Mode }).mode ?? 'fast';
    } catch {
      // The input is stored as JSON by submit; the mode only picks the status route's model kind.
    }
    const seen = engine?.checkUpstream
      ? await engine.checkUpstream(job.ref, { model: job.model as Model, mode }, AbortSignal.timeout(CHECK_TIMEOUT_MS))
      : 'unknown';
    if (seen !== 'completed' && seen !== 'failed') {
      await touchGivenUpJob(deps.db, job.task_id, deps.clock.now());
      continue;
    }
    if (!(await recordLateOutcome(deps.db, job.task_id, seen, deps.clock.now()))) continue;
    recorded++;
    if (seen === 'completed') {
      deps.metrics.lateCompletion(job.engine);
      deps.log.warn(
        { taskId: job.task_id, engine: job.engine, upstreamJob: job.ref },
        'upstream job completed after its task timed out: the upstream may bill it; the client was not charged',
      );
    } else {
      deps.log.info({ taskId: job.task_id, engine: job.engine }, 'upstream job given up on ended without a video');
    }
  }
  return recorded;
}

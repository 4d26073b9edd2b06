import { setTimeout as sleep } from 'node:timers/promises';
import type { EngineFailure } from './engine.js';
import { type LatencyHistory, nextPollDelay, type PollPolicy } from './poll-schedule.js';
import { engineFailure } from './upstream-job.js';

/**
 * One poll's answer: still running (with the upstream's `Retry-After`, if any); over (`done`, the
 * upstream's final word on the job, a video or not); the poll itself failed (`failed`); or the
 * upstream could not be reached (`unreachable`: a transient fault after the HTTP retries), which
 * says nothing about the job.
 */
export type PollAnswer<T> = { running: true; retryAfterMs?: number } | { done: T } | { failed: EngineFailure } | { unreachable: EngineFailure };

export interface PollLoop<T> {
  submittedAt: number;
  /** The soft deadline from the submit: past it the job is overdue and polled on the slow schedule. */
  deadlineMs: number;
  /**
   * The hard limit from the submit (default `deadlineMs`): an overdue job still running, or an
   * upstream still unreachable, fails with TIMEOUT only then (docs/operations.md, unknown
   * upstream outcomes): the job was submitted, so it may still finish and be billed.
   */
  hardLimitMs?: number;
  policy: PollPolicy;
  /** Completion times of jobs like this one (fed here, read by the schedule). */
  history: LatencyHistory;
  /** A resumed job is polled at once: it may have finished while no worker watched it. */
  pollFirst: boolean;
  now: () => number;
  signal: AbortSignal;
  poll: () => Promise<PollAnswer<T>>;
}

/**
 * Polls an upstream job until it is over, on the schedule of poll-schedule.ts. Past `deadlineMs`
 * it keeps waiting, every `sparseMaxMs`, treating an unreachable upstream like a running job,
 * and gives up with TIMEOUT `hardLimitMs` after the submit. Before the soft deadline an
 * unreachable upstream fails the poll as before (UPSTREAM_ERROR). The completion time recorded
 * is the middle of the last interval (between the poll that saw it running and the one that saw
 * it done): recording the time it was *seen* done would bias the history late, so that the start
 * of dense polling could only drift later and never come back down (measured in
 * bench/upstream.mjs).
 */
export async function pollUntilDone<T>(loop: PollLoop<T>): Promise<T | EngineFailure> {
  const soft = loop.submittedAt + loop.deadlineMs;
  const limitMs = Math.max(loop.deadlineMs, loop.hardLimitMs ?? loop.deadlineMs);
  const hard = loop.submittedAt + limitMs;
  const overdue = limitMs > loop.deadlineMs;
  const timeout = (): EngineFailure =>
    engineFailure(
      'TIMEOUT',
      overdue
        ? `the upstream gave no result within ${Math.round(limitMs / 1000)} s (overdue after ${Math.round(loop.deadlineMs / 1000)} s)`
        : `the upstream gave no result within ${Math.round(loop.deadlineMs / 1000)} s`,
    );
  let retryAfter: number | undefined;
  let lastRunningAt = loop.submittedAt;
  for (let first = true; ; first = false) {
    if (!(first && loop.pollFirst)) {
      const now = loop.now();
      const left = hard - now;
      if (left <= 0) return timeout();
      // Overdue: the slow schedule. The history says nothing useful about a job this late.
      const wait =
        now >= soft ? Math.max(loop.policy.sparseMaxMs, retryAfter ?? 0) : nextPollDelay(now - loop.submittedAt, loop.history, loop.policy, retryAfter);
      await sleep(Math.min(wait, left), undefined, { signal: loop.signal });
    }
    const askedAt = loop.now();
    const answer = await loop.poll();
    if ('unreachable' in answer) {
      if (askedAt < soft) return answer.unreachable;
      retryAfter = undefined;
      if (loop.now() >= hard) return timeout();
      continue;
    }
    if ('running' in answer) {
      retryAfter = answer.retryAfterMs;
      lastRunningAt = askedAt;
      if (loop.now() >= hard) return timeout();
      continue;
    }
    if ('failed' in answer) return answer.failed;
    // A resumed job's first answer says nothing about when it finished.
    if (!(first && loop.pollFirst)) loop.history.record((lastRunningAt + askedAt) / 2 - loop.submittedAt);
    return answer.done;
  }
}

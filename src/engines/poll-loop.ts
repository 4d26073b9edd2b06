import { setTimeout as sleep } from 'node:timers/promises';
import type { EngineFailure } from './engine.js';
import { type LatencyHistory, nextPollDelay, type PollPolicy } from './poll-schedule.js';
import { engineFailure } from './upstream-job.js';

/**
 * One poll's answer: still running (with the upstream's `Retry-After`, if any); over (`done`, the
 * upstream's final word on the job, a video or not); or the poll itself failed (`failed`).
 */
export type PollAnswer<T> = { running: true; retryAfterMs?: number } | { done: T } | { failed: EngineFailure };

export interface PollLoop<T> {
  submittedAt: number;
  deadlineMs: number;
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
 * Polls an upstream job until it is over, on the schedule of poll-schedule.ts, and gives up with
 * TIMEOUT `deadlineMs` after the submit. The completion time recorded is the middle of the last
 * interval (between the poll that saw it running and the one that saw it done): recording the
 * time it was *seen* done would bias the history late, so that the start of dense polling could
 * only drift later and never come back down (measured in bench/upstream.mjs).
 */
export async function pollUntilDone<T>(loop: PollLoop<T>): Promise<T | EngineFailure> {
  const deadline = loop.submittedAt + loop.deadlineMs;
  const timeout = (): EngineFailure => engineFailure('TIMEOUT', `the upstream gave no result within ${Math.round(loop.deadlineMs / 1000)} s`);
  let retryAfter: number | undefined;
  let lastRunningAt = loop.submittedAt;
  for (let first = true; ; first = false) {
    if (!(first && loop.pollFirst)) {
      const left = deadline - loop.now();
      if (left <= 0) return timeout();
      await sleep(Math.min(nextPollDelay(loop.now() - loop.submittedAt, loop.history, loop.policy, retryAfter), left), undefined, { signal: loop.signal });
    }
    const askedAt = loop.now();
    const answer = await loop.poll();
    if ('running' in answer) {
      retryAfter = answer.retryAfterMs;
      lastRunningAt = askedAt;
      if (loop.now() >= deadline) return timeout();
      continue;
    }
    if ('failed' in answer) return answer.failed;
    // A resumed job's first answer says nothing about when it finished.
    if (!(first && loop.pollFirst)) loop.history.record((lastRunningAt + askedAt) / 2 - loop.submittedAt);
    return answer.done;
  }
}

import { describe, expect, it } from 'vitest';
import { type PollAnswer, pollUntilDone } from './poll-loop.js';
import { LatencyHistory } from './poll-schedule.js';

/** A clock that moves `stepMs` with each poll's round trip, so the recorded times are exact. */
function scripted(answers: Array<PollAnswer<string>>, stepMs: number) {
  let t = 1000;
  const asked: number[] = [];
  return {
    now: () => t,
    asked,
    poll: async () => {
      asked.push(t);
      t += stepMs;
      return answers.shift() ?? { running: true };
    },
  };
}

const policy = { denseMs: 1, sparseMaxMs: 1 };

describe('pollUntilDone', () => {
  it('records the middle of the last interval as the completion time, not the time it was seen', async () => {
    const s = scripted([{ running: true }, { running: true }, { done: 'video' }], 100);
    const history = new LatencyHistory();
    const out = await pollUntilDone({
      submittedAt: 1000,
      deadlineMs: 60_000,
      policy,
      history,
      pollFirst: false,
      now: s.now,
      signal: new AbortController().signal,
      poll: s.poll,
    });
    expect(out).toBe('video');
    // Asked at +0 and +100 (running), then at +200 (done): it finished between +100 and +200.
    expect(s.asked).toEqual([1000, 1100, 1200]);
    expect(history.quantile(0.5)).toBe(150);
  });

  it('records nothing for a failed poll, nor for the first answer of a resumed job', async () => {
    const history = new LatencyHistory();
    const failed = { ok: false as const, failCode: 'UPSTREAM_ERROR' as const, message: 'HTTP 500', retryable: false };
    const a = scripted([{ failed }], 50);
    expect(
      await pollUntilDone({
        submittedAt: 1000,
        deadlineMs: 60_000,
        policy,
        history,
        pollFirst: false,
        now: a.now,
        signal: new AbortController().signal,
        poll: a.poll,
      }),
    ).toEqual(failed);
    const b = scripted([{ done: 'video' }], 50);
    expect(
      await pollUntilDone({
        submittedAt: 0,
        deadlineMs: 60_000,
        policy,
        history,
        pollFirst: true,
        now: b.now,
        signal: new AbortController().signal,
        poll: b.poll,
      }),
    ).toBe('video');
    expect(history.size).toBe(0);
  });

  it('gives up with TIMEOUT at the deadline counted from the submit', async () => {
    const s = scripted([], 400);
    const history = new LatencyHistory();
    const out = await pollUntilDone({
      submittedAt: 1000,
      deadlineMs: 1000,
      policy,
      history,
      pollFirst: false,
      now: s.now,
      signal: new AbortController().signal,
      poll: s.poll,
    });
    expect(out).toMatchObject({ ok: false, failCode: 'TIMEOUT' });
    expect(s.asked.length).toBeLessThanOrEqual(3);
  });
});

describe('pollUntilDone past the soft deadline', () => {
  const failed = { ok: false as const, failCode: 'UPSTREAM_ERROR' as const, message: 'HTTP 503', retryable: false };
  /** Polls script `s` for a job submitted when it starts (at 1000), with these limits. */
  const pollScript = (s: ReturnType<typeof scripted>, limits: { deadlineMs: number; hardLimitMs: number }) =>
    pollUntilDone({
      submittedAt: 1000,
      ...limits,
      policy,
      history: new LatencyHistory(),
      pollFirst: false,
      now: s.now,
      signal: new AbortController().signal,
      poll: s.poll,
    });

  it('keeps waiting for an overdue job on the slow schedule and takes its late result', async () => {
    const s = scripted([...Array.from({ length: 6 }, () => ({ running: true as const })), { done: 'late video' }], 500);
    const out = await pollScript(s, { deadlineMs: 1000, hardLimitMs: 60_000 });
    expect(out).toBe('late video');
    expect(s.asked.filter((at) => at >= 2000).length).toBeGreaterThan(0);
  });

  it('treats an unreachable upstream as still running once overdue, but fails on it before', async () => {
    const early = scripted([{ unreachable: failed }], 100);
    expect(await pollScript(early, { deadlineMs: 10_000, hardLimitMs: 60_000 })).toEqual(failed);
    const late = scripted([{ running: true }, { running: true }, { running: true }, { unreachable: failed }, { unreachable: failed }, { done: 'video' }], 400);
    expect(await pollScript(late, { deadlineMs: 1000, hardLimitMs: 60_000 })).toBe('video');
  });

  it('gives up with TIMEOUT at the hard limit, saying the job was overdue', async () => {
    const s = scripted([], 400);
    const out = await pollScript(s, { deadlineMs: 1000, hardLimitMs: 3000 });
    expect(out).toMatchObject({ ok: false, failCode: 'TIMEOUT', message: expect.stringContaining('within 3 s (overdue after 1 s)') });
    // It asked past the soft deadline (at +1000) before the hard limit (at +3000).
    expect(s.asked.some((at) => at >= 2000 && at < 4000)).toBe(true);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getUpstream } from '../src/db/upstream-repo.js';
import { type FakeGemini, onlyGeminiEnv, startFakeGemini } from './support/fake-gemini.js';
import { parsePrometheusText } from './support/prometheus-text.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';
import { until } from './support/until.js';

/**
 * Unknown upstream outcomes (docs/operations.md): a Veo operation still running at our soft
 * deadline keeps its hold (Google may still bill it) and is polled on the slow schedule until the
 * hard limit; only then does the task fail with TIMEOUT, released. When the operation finishes
 * after that, the maintenance loop records it on the task for the operator and counts it, and
 * the client is never charged. Durations are small so this runs in seconds.
 */
const ADMIN = `lsa_${'l'.repeat(40)}`;
const DEADLINE_S = 1;
let fake: FakeGemini;
let t: TestService;

beforeAll(async () => {
  fake = await startFakeGemini();
  fake.hold = true;
  t = await startTestService({
    LONGSHOT_ADMIN_TOKEN: ADMIN,
    ...onlyGeminiEnv(fake),
    LONGSHOT_UPSTREAM_POLL_MS: '40',
    LONGSHOT_UPSTREAM_POLL_MAX_MS: '100',
    LONGSHOT_UPSTREAM_DEADLINE_SECONDS: String(DEADLINE_S),
    LONGSHOT_UPSTREAM_HARD_LIMIT_SECONDS: '4',
  });
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const balance = async () => (await t.api('GET', '/api/v1/apikeys/current-balance')).body.data as number;
const ledgerKinds = async (taskId: string) =>
  (await t.service.deps.db.kysely.selectFrom('ledger_entries').select('kind').where('task_id', '=', taskId).orderBy('id').execute()).map((e) => e.kind);

async function lateCompletions(engine: string): Promise<number> {
  const res = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
  const family = parsePrometheusText(await res.text()).get('longshot_upstream_late_completions_total');
  return family?.samples.find((s) => s.labels.engine === engine)?.value ?? Number.NaN;
}

describe('an upstream job that outlives our deadline', () => {
  it('keeps the hold past the soft deadline, fails with TIMEOUT at the hard limit, and records the late completion', async () => {
    const before = await balance();
    expect(await lateCompletions('gemini')).toBe(0);
    const taskId = (await t.api('POST', '/api/v1/generateTask/veo-3-1', { body: { provider: 'official', input: { prompt: 'finishes late', mode: 'fast' } } }))
      .body.data.taskId;
    const ref = await until(async () => (await getUpstream(t.service.deps.db, taskId))?.ref ?? undefined, 'the operation to be saved');
    const { submittedAt } = JSON.parse(ref) as { submittedAt: number };

    // Past the soft deadline, with a poll answered "running" since: still processing, still held.
    await until(async () => (Date.now() > submittedAt + DEADLINE_S * 1000 ? true : undefined), 'the soft deadline to pass');
    const pollsAtDeadline = fake.polls;
    await until(async () => (fake.polls > pollsAtDeadline ? true : undefined), 'a poll after the soft deadline');
    const overdue = await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`);
    expect(overdue.body.data.state).toBe('processing');
    expect(await ledgerKinds(taskId)).toEqual(['hold']);
    expect(await balance()).toBe(before - 0.2);

    // At the hard limit: TIMEOUT, and only now released.
    const ended = await waitForTask(t, 'veo-3-1', taskId);
    expect(ended).toMatchObject({ state: 'failed', failCode: 'TIMEOUT', failMsg: expect.stringContaining('within 4 s (overdue after 1 s)') });
    expect(await ledgerKinds(taskId)).toEqual(['hold', 'release']);
    expect(await balance()).toBe(before);
    const given = await t.api('GET', `/admin/v1/tasks/${taskId}`, { key: ADMIN });
    expect(given.body.data.upstream).toMatchObject({ engine: 'gemini', jobId: ref, lateOutcome: null });

    // The operation finishes after all: the operator sees it on the task and in the metric.
    fake.release();
    const late = await until(async () => {
      const d = await t.api('GET', `/admin/v1/tasks/${taskId}`, { key: ADMIN });
      return d.body.data.upstream?.lateOutcome ?? undefined;
    }, 'the late completion to be recorded');
    expect(late).toEqual({ outcome: 'completed', at: expect.any(Number) });
    expect(late.at).toBeGreaterThanOrEqual(ended.completeTime);
    expect(await lateCompletions('gemini')).toBe(1);

    // Never charged after the fact: the client's task and money are as they were at the TIMEOUT.
    const still = await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`);
    expect(still.body.data).toMatchObject({ state: 'failed', failCode: 'TIMEOUT' });
    expect(await ledgerKinds(taskId)).toEqual(['hold', 'release']);
    expect(await balance()).toBe(before);
    // Recorded once: later rounds leave it alone.
    const pollsAfter = fake.polls;
    await new Promise((r) => setTimeout(r, 500));
    expect(fake.polls).toBe(pollsAfter);
    expect(await lateCompletions('gemini')).toBe(1);
  });
});

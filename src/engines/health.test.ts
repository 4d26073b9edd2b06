import { describe, expect, it } from 'vitest';
import type { EngineFailure, RenderedVideo } from './engine.js';
import { type BreakerSettings, createEngineHealth, type EngineStanding } from './health.js';

const SETTINGS: BreakerSettings = { failures: 5, cooldownMs: 60_000, probeTimeoutMs: 300_000, recheckMs: 600_000 };
const T0 = 1_700_000_000_000;

// The upstream's words are account detail: they may go to the operator (`why`), never to a client (`summary`).
const SECRET = 'quota of project acme-prod-4711 exhausted';
const upstreamError = (message = SECRET): EngineFailure => ({ ok: false, failCode: 'UPSTREAM_ERROR', message, retryable: false });
const timeout: EngineFailure = { ok: false, failCode: 'TIMEOUT', message: 'no answer within 10 min', retryable: true };
const violation: EngineFailure = { ok: false, failCode: 'CONTENT_VIOLATION', message: 'prompt refused', retryable: false };
const success: RenderedVideo = { ok: true, durationMs: 8000, width: 1280, height: 720 };

function setup() {
  const changes: EngineStanding[] = [];
  const health = createEngineHealth(['vertex'], SETTINGS, (s) => changes.push(s));
  return { health, changes };
}

/** Records `n` UPSTREAM_ERRORs at `at`; the fifth opens the breaker until `at + cooldownMs`. */
function fail(health: ReturnType<typeof setup>['health'], n: number, at = T0): void {
  for (let i = 0; i < n; i++) health.record('vertex', upstreamError(), at);
}

describe('engine health: circuit breaker', () => {
  it('admits a fresh engine, also one it was never told about', () => {
    const { health } = setup();
    expect(health.admit('vertex', T0)).toEqual({ admit: true, probe: false });
    expect(health.admit('other', T0)).toEqual({ admit: true, probe: false });
    expect(health.standing('vertex')).toMatchObject({ available: true, consecutiveFailures: 0, openUntil: null });
  });

  it('stays closed through 4 UPSTREAM_ERRORs and opens at the 5th until the cooldown ends', () => {
    const { health } = setup();
    fail(health, 4);
    expect(health.admit('vertex', T0)).toEqual({ admit: true, probe: false });
    expect(health.standing('vertex')).toMatchObject({ consecutiveFailures: 4, openUntil: null, lastError: SECRET, lastErrorAt: T0 });

    fail(health, 1);
    expect(health.standing('vertex').openUntil).toBe(T0 + SETTINGS.cooldownMs);
    for (const at of [T0, T0 + SETTINGS.cooldownMs - 1]) {
      const a = health.admit('vertex', at);
      expect(a.admit).toBe(false);
      if (a.admit) return;
      expect(a.why).toContain(SECRET);
      expect(a.why).toContain('5 times');
      expect(a.summary).toContain(new Date(T0 + SETTINGS.cooldownMs).toISOString());
      expect(a.summary).not.toContain(SECRET);
    }
  });

  it('after the cooldown lets exactly one caller probe; a successful probe closes the breaker', () => {
    const { health } = setup();
    fail(health, 5);
    const end = T0 + SETTINGS.cooldownMs;
    expect(health.admit('vertex', end)).toEqual({ admit: true, probe: true });
    const second = health.admit('vertex', end + 1);
    expect(second.admit).toBe(false);
    if (!second.admit) {
      expect(second.why).toMatch(/probing/);
      expect(second.summary).not.toContain(SECRET);
    }

    health.record('vertex', success, end + 10_000);
    expect(health.standing('vertex')).toMatchObject({ consecutiveFailures: 0, openUntil: null });
    expect(health.admit('vertex', end + 10_001)).toEqual({ admit: true, probe: false });
  });

  it('a failed probe reopens the breaker at once for another cooldown', () => {
    const { health } = setup();
    fail(health, 5);
    const end = T0 + SETTINGS.cooldownMs;
    expect(health.admit('vertex', end)).toEqual({ admit: true, probe: true });
    const failedAt = end + 20_000;
    health.record('vertex', upstreamError(), failedAt, true);
    expect(health.standing('vertex').openUntil).toBe(failedAt + SETTINGS.cooldownMs);
    expect(health.admit('vertex', failedAt + SETTINGS.cooldownMs - 1).admit).toBe(false);
    expect(health.admit('vertex', failedAt + SETTINGS.cooldownMs)).toEqual({ admit: true, probe: true });
  });

  it('a probe whose worker never reports back lets another task probe after probeTimeoutMs', () => {
    const { health } = setup();
    fail(health, 5);
    const probeAt = T0 + SETTINGS.cooldownMs;
    expect(health.admit('vertex', probeAt)).toEqual({ admit: true, probe: true });
    expect(health.admit('vertex', probeAt + SETTINGS.probeTimeoutMs - 1).admit).toBe(false);
    expect(health.admit('vertex', probeAt + SETTINGS.probeTimeoutMs)).toEqual({ admit: true, probe: true });
    // The new probe holds the slot in turn.
    expect(health.admit('vertex', probeAt + SETTINGS.probeTimeoutMs + 1).admit).toBe(false);
  });

  it('a TIMEOUT neither counts nor resets', () => {
    const { health, changes } = setup();
    fail(health, 4);
    const before = changes.length;
    health.record('vertex', timeout, T0 + 1);
    expect(health.standing('vertex').consecutiveFailures).toBe(4);
    expect(changes).toHaveLength(before);
    // Still one short: the next UPSTREAM_ERROR is the 5th and opens.
    fail(health, 1, T0 + 2);
    expect(health.standing('vertex').openUntil).toBe(T0 + 2 + SETTINGS.cooldownMs);
  });

  it('any other answer of the upstream (CONTENT_VIOLATION) resets the count', () => {
    const { health } = setup();
    fail(health, 4);
    health.record('vertex', violation, T0 + 1);
    expect(health.standing('vertex').consecutiveFailures).toBe(0);
    fail(health, 4, T0 + 2);
    expect(health.admit('vertex', T0 + 2)).toEqual({ admit: true, probe: false });
  });

  it("'aborted' frees the probe slot without counting or closing", () => {
    const { health } = setup();
    fail(health, 5);
    const end = T0 + SETTINGS.cooldownMs;
    expect(health.admit('vertex', end)).toEqual({ admit: true, probe: true });
    health.record('vertex', 'aborted', end + 1, true);
    expect(health.standing('vertex')).toMatchObject({ consecutiveFailures: 5, openUntil: end });
    expect(health.admit('vertex', end + 2)).toEqual({ admit: true, probe: true });
  });

  it('lets only the probe free the probe slot, not tasks admitted before the breaker opened', () => {
    const { health } = setup();
    fail(health, 5);
    const end = T0 + SETTINGS.cooldownMs;
    expect(health.admit('vertex', end)).toEqual({ admit: true, probe: true });
    health.record('vertex', 'aborted', end + 1);
    health.record('vertex', { ok: false, failCode: 'TIMEOUT', message: 'slow', retryable: false }, end + 2);
    expect(health.admit('vertex', end + 3).admit).toBe(false);
  });
});

describe('engine health: availability', () => {
  it('a failure with engineUnavailable makes the engine unavailable until a model check passes', () => {
    const { health } = setup();
    const reason = 'Publisher Model veo-3.1-generate-001 was not found in project acme-prod-4711';
    const failure: EngineFailure = { ...upstreamError('the model is not available'), engineUnavailable: reason };
    health.record('vertex', failure, T0);

    const s = health.standing('vertex');
    expect(s).toMatchObject({ available: false, reason, summary: 'the model is not available', lastError: reason });
    const a = health.admit('vertex', T0 + SETTINGS.recheckMs - 1);
    expect(a.admit).toBe(false);
    if (!a.admit) {
      expect(a.why).toContain(reason);
      expect(a.summary).toContain('the model is not available');
      expect(a.summary).not.toContain('acme-prod-4711');
    }

    health.checked('vertex', { state: 'ok' }, T0 + 10);
    expect(health.standing('vertex')).toMatchObject({ available: true, reason: null, fix: null, summary: null, checkedAt: T0 + 10 });
    expect(health.admit('vertex', T0 + 11)).toEqual({ admit: true, probe: false });
  });

  it('lets one task try an engine a task made unavailable again after recheckMs; its success restores it', () => {
    const { health } = setup();
    const refused: EngineFailure = { ...upstreamError('the upstream account cannot pay for the task'), engineUnavailable: 'partner answered 402' };
    health.record('partner', refused, T0);
    const at = T0 + SETTINGS.recheckMs;
    expect(health.admit('partner', at)).toEqual({ admit: true, probe: true });
    expect(health.admit('partner', at + 1).admit).toBe(false);
    // Still refused: unavailable again, for another recheckMs.
    health.record('partner', refused, at + 2, true);
    expect(health.admit('partner', at + 3).admit).toBe(false);
    expect(health.admit('partner', at + 2 + SETTINGS.recheckMs)).toEqual({ admit: true, probe: true });
    health.record('partner', success, at + 3 + SETTINGS.recheckMs, true);
    expect(health.standing('partner')).toMatchObject({ available: true, reason: null, consecutiveFailures: 0 });
    expect(health.admit('partner', at + 4 + SETTINGS.recheckMs)).toEqual({ admit: true, probe: false });
  });

  it('keeps an engine a model check made unavailable until a check passes, however long', () => {
    const { health } = setup();
    health.checked('gemini', { state: 'unavailable', reason: 'model gone', fix: 'set the model', summary: 'the model is gone' }, T0);
    expect(health.admit('gemini', T0 + 100 * SETTINGS.recheckMs).admit).toBe(false);
  });

  it('a failed model check makes it unavailable with its reason, fix and summary; unknown changes nothing', () => {
    const { health, changes } = setup();
    const check = {
      state: 'unavailable',
      reason: 'permission denied on acme-prod-4711',
      fix: 'grant roles/aiplatform.user',
      summary: 'credentials refused',
    } as const;
    health.checked('vertex', check, T0);
    expect(health.standing('vertex')).toMatchObject({ available: false, reason: check.reason, fix: check.fix, summary: check.summary, checkedAt: T0 });
    const a = health.admit('vertex', T0 + 1);
    expect(a.admit).toBe(false);
    if (!a.admit) expect(a.summary).toContain('credentials refused');

    const before = health.standing('vertex');
    const published = changes.length;
    health.checked('vertex', { state: 'unknown', reason: 'ECONNREFUSED' }, T0 + 5);
    expect(health.standing('vertex')).toEqual(before);
    expect(changes).toHaveLength(published);

    // And from healthy, unknown does not make it unavailable either.
    const fresh = setup();
    fresh.health.checked('vertex', { state: 'unknown', reason: 'ECONNREFUSED' }, T0);
    expect(fresh.health.standing('vertex')).toMatchObject({ available: true, checkedAt: null });
    expect(fresh.changes).toHaveLength(0);
  });
});

describe('engine health: onChange', () => {
  it('publishes each change of standing, not every plain success', () => {
    const { health, changes } = setup();
    health.record('vertex', success, T0);
    health.record('vertex', success, T0 + 1);
    expect(changes).toHaveLength(0);

    fail(health, 2, T0 + 2);
    expect(changes.map((c) => c.consecutiveFailures)).toEqual([1, 2]);
    health.record('vertex', success, T0 + 3);
    health.record('vertex', success, T0 + 4);
    expect(changes.map((c) => c.consecutiveFailures)).toEqual([1, 2, 0]);

    fail(health, 5, T0 + 5);
    expect(changes.at(-1)).toMatchObject({ consecutiveFailures: 5, openUntil: T0 + 5 + SETTINGS.cooldownMs });
    health.checked('vertex', { state: 'unavailable', reason: 'r', fix: 'f', summary: 's' }, T0 + 6);
    expect(changes.at(-1)).toMatchObject({ engine: 'vertex', available: false, reason: 'r' });
    health.checked('vertex', { state: 'ok' }, T0 + 7);
    expect(changes.at(-1)).toMatchObject({ available: true, reason: null });
    // What is published is a copy: later changes do not rewrite what was handed out.
    expect(changes[0]!.consecutiveFailures).toBe(1);
  });
});

import { randomUUID } from 'node:crypto';
import { claimDueDelivery, recordAttempt, releaseDelivery } from '../db/deliveries-repo.js';
import type { Deps } from '../services/deps.js';
import type { Waker } from '../worker/waker.js';
import { attemptDelivery, type CallbackTransport } from './deliver.js';
import { nextStep } from './schedule.js';

export interface WebhookSender {
  start(): void;
  /** Stops claiming, aborts requests in flight (their deliveries stay due) and waits for the loops. */
  stop(): Promise<void>;
  /** Claims and tries one due delivery; false when none was due. Tests drive the sender with it. */
  sendOne(): Promise<boolean>;
}

export interface SenderOptions {
  waker: Waker;
  /** Deliveries in flight at once, so one slow receiver does not hold up the others. */
  concurrency: number;
  transport?: CallbackTransport;
  /** Source of jitter in [0, 1); injected by tests. */
  random?: () => number;
  /** Idle loops look for due deliveries at least this often, even without a wake. */
  pollMs?: number;
}

/**
 * Drains the delivery outbox: N loops each claim a due delivery with a lease, send it, log the
 * attempt and reschedule it. The lease outlasts the request deadline, so a live sender never
 * loses a row it is sending; a sender that died leaves a lease that runs out, and the row is
 * claimed again (delivery is at-least-once: receivers dedupe on `webhook-id`).
 */
export function createWebhookSender(deps: Deps, opts: SenderOptions): WebhookSender {
  const { db, log, config } = deps;
  const random = opts.random ?? Math.random;
  const pollMs = opts.pollMs ?? 1000;
  // The lease outlasts the request deadline plus time to record the attempt; the slack shrinks
  // with short deadlines (30 s at the default) so a dead sender's rows come back sooner.
  const leaseMs = config.webhookTimeoutMs + Math.min(30_000, Math.max(5_000, config.webhookTimeoutMs));
  const inFlight = new Set<AbortController>();
  const loops: Promise<void>[] = [];
  let stopping = false;

  async function sendOne(): Promise<boolean> {
    const token = randomUUID();
    const d = await claimDueDelivery(db, deps.clock.now(), leaseMs, token);
    if (!d) return false;
    const ctrl = new AbortController();
    inFlight.add(ctrl);
    try {
      const out = await attemptDelivery(deps, d, ctrl.signal, opts.transport);
      if (out === null) {
        await releaseDelivery(db, d.id, token);
        return true;
      }
      const attempt = Number(d.attempts) + 1;
      const now = deps.clock.now();
      const step = out.permanent
        ? ({ state: 'failed', nextAttemptAt: null } as const)
        : nextStep(out.result, attempt, config.webhookRetryScheduleMs, now, random);
      deps.metrics.webhookAttempt(step.state === 'pending' ? 'retry' : step.state);
      const held = await recordAttempt(db, d.id, token, {
        attempt,
        startedAt: out.startedAt,
        durationMs: out.durationMs,
        statusCode: out.statusCode,
        error: out.error,
        state: step.state,
        nextAttemptAt: step.nextAttemptAt,
        completedAt: step.state === 'pending' ? null : now,
      });
      const fields = { deliveryId: d.id, taskId: d.task_id, attempt, status: out.statusCode, error: out.error, state: step.state };
      if (!held) log.warn(fields, 'webhook lease lost while sending; another sender owns the delivery now');
      else if (step.state === 'failed' || step.state === 'gone') log.warn(fields, 'webhook delivery given up');
      else if (step.state === 'pending') log.info({ ...fields, nextAttemptAt: step.nextAttemptAt }, 'webhook attempt failed; will retry');
      return true;
    } finally {
      inFlight.delete(ctrl);
    }
  }

  async function loop(): Promise<void> {
    while (!stopping) {
      let worked = false;
      try {
        worked = await sendOne();
      } catch (err) {
        // A database fault: the lease (if taken) runs out and the row is claimed again later.
        log.error({ err }, 'webhook sender failed');
      }
      if (!worked && !stopping) await opts.waker.wait(pollMs);
    }
  }

  return {
    start() {
      for (let i = 0; i < Math.max(1, opts.concurrency); i++) loops.push(loop());
    },
    async stop() {
      stopping = true;
      for (const c of inFlight) c.abort();
      opts.waker.wake();
      await Promise.all(loops);
    },
    sendOne,
  };
}

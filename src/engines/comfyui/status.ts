import type { EngineFailure } from '../engine.js';
import { isTransient } from '../google-http.js';
import { callJson, type JsonTarget, partnerMessage } from '../guarded-json.js';
import type { PollAnswer } from '../poll-loop.js';
import { engineFailure as failure } from '../upstream-job.js';

/** A finished prompt as ComfyUI's history keeps it: its status (with the execution messages) and its outputs by node. */
export type HistoryEntry = {
  status?: { status_str?: string; messages?: [string, Record<string, unknown>][] };
  outputs?: Record<string, Record<string, unknown>>;
};

/**
 * A job of ComfyUI's jobs API (`GET /api/jobs/{id}`, `comfy_execution/jobs.py`: `get_job`,
 * `normalize_history_item`), trimmed to what Longshot reads. A finished one carries its
 * `outputs` and `execution_status` (the history's status); a failed one its `execution_error`.
 */
interface Job {
  status?: unknown;
  outputs?: HistoryEntry['outputs'];
  execution_status?: HistoryEntry['status'];
  execution_error?: Record<string, unknown>;
}

/** Reads where a prompt stands on one ComfyUI (docs/comfyui.md, how a task runs: truth). */
export interface ComfyStatus {
  /** One look: running, over (its history entry), lost, or no answer. */
  look(id: string, signal: AbortSignal): Promise<PollAnswer<HistoryEntry>>;
  /** Whether the core has the jobs API; null when it could not be asked (no answer). */
  hasJobsApi(signal: AbortSignal): Promise<boolean | null>;
  /** Asks again at the next look (a model check may follow an upgrade or a downgrade of the core). */
  forget(): void;
}

export function createComfyStatus(target: JsonTarget): ComfyStatus {
  /** Learnt once and kept: every look of every task would otherwise cost a request more. */
  let jobsApi: boolean | null = null;
  const quick = { ...target, retries: 0 };

  async function hasJobsApi(signal: AbortSignal): Promise<boolean | null> {
    const answer = await callJson(quick, 'GET', '/api/jobs?limit=1', signal);
    // The jobs API answers `{jobs: [...], pagination}`; a proxy's page or an old core's 404 is not it.
    if (answer.status === 200) return Array.isArray((answer.body as { jobs?: unknown } | null)?.jobs);
    return isTransient(answer.status) ? null : false;
  }

  /** In the queue → running; in the history → over; in neither → lost (ComfyUI restarted). */
  async function fromQueueAndHistory(id: string, signal: AbortSignal): Promise<PollAnswer<HistoryEntry>> {
    const queue = await callJson(target, 'GET', '/queue', signal);
    if (queue.status !== 200) return unreachableOr(queue, 'reading the ComfyUI queue');
    const q = queue.body as { queue_running?: unknown[][]; queue_pending?: unknown[][] } | null;
    if ([...(q?.queue_running ?? []), ...(q?.queue_pending ?? [])].some((item) => Array.isArray(item) && item[1] === id)) return { running: true };
    // Checked after the queue: ComfyUI writes a prompt's history before it leaves the queue.
    const entry = await historyOf(id, signal);
    if ('failed' in entry || 'unreachable' in entry) return entry;
    if (!entry.done) return { failed: lost(id) };
    return { done: entry.done };
  }

  async function historyOf(
    id: string,
    signal: AbortSignal,
  ): Promise<{ done: HistoryEntry | undefined } | { failed: EngineFailure } | { unreachable: EngineFailure }> {
    const history = await callJson(target, 'GET', `/history/${encodeURIComponent(id)}`, signal);
    if (history.status !== 200) return unreachableOr(history, 'reading the ComfyUI history');
    return { done: (history.body as Record<string, HistoryEntry> | null)?.[id] };
  }

  /** The jobs API answers from the history first, then the queue, so a finished prompt is never reported missing. */
  async function fromJobs(id: string, signal: AbortSignal, again = true): Promise<PollAnswer<HistoryEntry> | 'no-jobs-api'> {
    const answer = await callJson(target, 'GET', `/api/jobs/${encodeURIComponent(id)}`, signal);
    if (answer.status === 404) {
      // Make sure the 404 is about the job, not a core that lost the route (downgraded, or a
      // proxy's page), and ask once more: a prompt that finished between the server's reads of
      // its queue and its history must not be taken for lost.
      const still = await hasJobsApi(signal);
      if (still === null) return { unreachable: failure('UPSTREAM_ERROR', 'reading the ComfyUI jobs API failed: no answer') };
      if (!still) return 'no-jobs-api';
      // `get_job` looks in both, so its 404 says what the old way's empty answers say.
      return again ? fromJobs(id, signal, false) : { failed: lost(id) };
    }
    if (answer.status !== 200) {
      // A core whose jobs API refuses our id (a 4xx other than 404) is asked the old way.
      if (answer.status >= 400 && answer.status < 500 && answer.status !== 429) return 'no-jobs-api';
      return unreachableOr(answer, 'reading the ComfyUI jobs API');
    }
    const job = answer.body as Job | null;
    // A 200 that is no job (a proxy's page, an empty body) says nothing: the old way knows.
    if (typeof job !== 'object' || job === null || typeof job.status !== 'string') return 'no-jobs-api';
    switch (job.status) {
      case 'completed':
        // `get_job` carries the outputs; a core or proxy that leaves them out is asked for the history entry.
        if (!job.outputs) {
          const entry = await historyOf(id, signal);
          if (!('done' in entry)) return entry;
          return { done: entry.done ?? { status: { status_str: 'success' } } };
        }
        return { done: { status: { ...job.execution_status, status_str: 'success' }, outputs: job.outputs } };
      case 'failed':
      case 'cancelled': {
        const messages =
          job.execution_status?.messages ?? (job.execution_error ? [['execution_error', job.execution_error] as [string, Record<string, unknown>]] : []);
        return { done: { status: { status_str: 'error', messages }, outputs: job.outputs ?? {} } };
      }
      default:
        // `pending`, `in_progress`, or a status newer than this code: not over yet (the deadline bounds it).
        return { running: true };
    }
  }

  return {
    async look(id, signal) {
      if (jobsApi === null) jobsApi = await hasJobsApi(signal);
      if (jobsApi) {
        const answer = await fromJobs(id, signal);
        if (answer !== 'no-jobs-api') return answer;
        jobsApi = false;
      }
      return fromQueueAndHistory(id, signal);
    },
    hasJobsApi,
    forget() {
      jobsApi = null;
    },
  };
}

const lost = (id: string): EngineFailure =>
  failure('UPSTREAM_ERROR', `the engine lost the job: ComfyUI has prompt ${id} in neither its queue nor its history (it restarted?)`);

const unreachableOr = (answer: { status: number; body: unknown }, what: string): { failed: EngineFailure } | { unreachable: EngineFailure } =>
  isTransient(answer.status)
    ? { unreachable: failure('UPSTREAM_ERROR', `${what} failed: ${partnerMessage(answer)}`) }
    : { failed: failure('UPSTREAM_ERROR', `${what} failed: ${partnerMessage(answer)}`) };

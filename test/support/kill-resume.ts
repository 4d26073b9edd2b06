import { type ChildService, startChildService, waitForExit } from './child-service.js';
import { until } from './until.js';

/** What the restart test needs of a fake upstream: hold its jobs, count polls, let go. */
export interface HoldableUpstream {
  hold: boolean;
  polls: number;
  release(): void;
}

/**
 * Submits `body` to a `longshot serve` child, waits until the upstream has the job and was polled
 * once, kills the child with SIGKILL, lets the upstream finish, starts a second child on the same
 * data dir and returns the task's final status from it. `submitted()` counts the upstream submits
 * of this task, so the caller can assert there was exactly one.
 */
export async function killWhileWaiting(env: Record<string, string>, upstream: HoldableUpstream, body: unknown, submitted: () => number): Promise<any> {
  const children: ChildService[] = [];
  const call = async (svc: ChildService, key: string, method: string, path: string, payload?: unknown) => {
    const res = await fetch(svc.url + path, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    return (await res.json()) as any;
  };
  try {
    upstream.hold = true;
    const first = await startChildService(env);
    children.push(first);
    const key = first.key!;
    const { taskId } = (await call(first, key, 'POST', '/api/v1/generateTask/veo-3-1', body)).data;
    const polls = await until(async () => (submitted() === 1 ? upstream.polls : undefined), 'the upstream submit');
    await until(async () => (upstream.polls > polls ? true : undefined), 'a poll of the operation');
    first.child.kill('SIGKILL');
    await waitForExit(first.child);
    upstream.hold = false;
    upstream.release();

    const second = await startChildService(env);
    children.push(second);
    return await until(
      async () => {
        const d = (await call(second, key, 'GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`)).data;
        return d.state === 'success' || d.state === 'failed' ? d : undefined;
      },
      'the task to finish after the restart',
      30_000,
    );
  } finally {
    upstream.hold = false;
    upstream.release();
    for (const c of children) c.child.kill('SIGKILL');
  }
}

import { LongshotApiError, LongshotNetworkError, TaskFailedError, WaitTimeoutError } from '../client/index.js';
import { CliError } from './cli-error.js';

/** Exit codes of the creator commands (documented in docs/cli.md and docs/errors.md). */
export const EXIT = {
  OK: 0,
  UNEXPECTED: 1,
  /** Bad arguments, or a request the API refused as invalid or unknown (400, 404, 409, 410, 413, 416, 422). */
  USAGE: 2,
  /** No key, or the key was refused (401) or may not do this (403). */
  AUTH: 3,
  /** 402: the balance does not cover the task. */
  BALANCE: 4,
  /** 429 still answered after the retries. */
  RATE_LIMITED: 5,
  /** The task ended in state `failed`; its failCode is printed. */
  TASK_FAILED: 6,
  /** --timeout passed while the task was still pending or processing. */
  TIMEOUT: 7,
  /** The server could not be reached, or kept answering 5xx after the retries. */
  UNREACHABLE: 8,
  /** Stopped by Ctrl-C while waiting; the task keeps running on the server. */
  INTERRUPTED: 130,
} as const;

export type ExitKind = 'usage' | 'auth' | 'balance' | 'rate_limited' | 'task_failed' | 'timeout' | 'unreachable' | 'interrupted' | 'unexpected';

const CODES: Record<ExitKind, number> = {
  usage: EXIT.USAGE,
  auth: EXIT.AUTH,
  balance: EXIT.BALANCE,
  rate_limited: EXIT.RATE_LIMITED,
  task_failed: EXIT.TASK_FAILED,
  timeout: EXIT.TIMEOUT,
  unreachable: EXIT.UNREACHABLE,
  interrupted: EXIT.INTERRUPTED,
  unexpected: EXIT.UNEXPECTED,
};

/** Which kind of failure an error is, and so the process's exit code. */
export function classify(err: unknown): { kind: ExitKind; code: number } {
  const kind = kindOf(err);
  return { kind, code: CODES[kind] };
}

function kindOf(err: unknown): ExitKind {
  if (err instanceof CliError) return 'usage';
  if (
    (err as { code?: unknown })?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
    (err as { code?: unknown })?.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ||
    (err as { code?: unknown })?.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
  )
    return 'usage';
  if (err instanceof TaskFailedError) return 'task_failed';
  if (err instanceof WaitTimeoutError) return 'timeout';
  if (err instanceof LongshotNetworkError) return 'unreachable';
  if (err instanceof LongshotApiError) {
    if (err.status === 401 || err.status === 403) return 'auth';
    if (err.status === 402) return 'balance';
    if (err.status === 429) return 'rate_limited';
    if (err.status >= 500) return 'unreachable';
    if (err.status >= 400) return 'usage';
    return 'unexpected';
  }
  if ((err as { name?: unknown })?.name === 'AbortError') return 'interrupted';
  return 'unexpected';
}

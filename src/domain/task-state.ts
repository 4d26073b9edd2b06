/** Task lifecycle. `pending` until a worker claims it; `success` and `failed` are final. */
export type TaskState = 'pending' | 'processing' | 'success' | 'failed';

export function isFinal(state: TaskState): boolean {
  return state === 'success' || state === 'failed';
}

/** Machine-readable reasons a task failed, as reported in `failCode`. */
export const FAIL_CODES = [
  'TASKID_ERROR',
  'CONTENT_VIOLATION',
  'INVALID_PARAMETER',
  'INSUFFICIENT_BALANCE',
  'UPSTREAM_ERROR',
  'TIMEOUT',
  'IMAGE_DOWNLOAD_FAILED',
  'INVALID_IMAGE_URL',
  'IMAGE_TOO_LARGE',
  'UNSUPPORTED_FORMAT',
  'CANCELLED',
  'INTERNAL_ERROR',
] as const;

export type FailCode = (typeof FAIL_CODES)[number];

export function isFailCode(value: string): value is FailCode {
  return (FAIL_CODES as readonly string[]).includes(value);
}

import type { TaskStatus } from './types.js';

/** Base class of every error the client throws on purpose. */
export class LongshotError extends Error {
  override name = 'LongshotError';
}

export interface ApiErrorFields {
  failCode?: string;
  field?: string;
  requestId?: string;
  /** Seconds, from the `Retry-After` header or `data.retryAfter`. */
  retryAfter?: number;
  /** The envelope's `data` (null or an object with at least `error`). */
  data?: unknown;
}

/**
 * The API answered with an HTTP error (after any retries). `message` is the envelope's
 * `data.error` sentence when there is one, else its `message`.
 */
export class LongshotApiError extends LongshotError {
  override name = 'LongshotApiError';
  readonly failCode?: string;
  readonly field?: string;
  readonly requestId?: string;
  readonly retryAfter?: number;
  readonly data?: unknown;

  constructor(
    readonly status: number,
    message: string,
    fields: ApiErrorFields = {},
  ) {
    super(message);
    if (fields.failCode !== undefined) this.failCode = fields.failCode;
    if (fields.field !== undefined) this.field = fields.field;
    if (fields.requestId !== undefined) this.requestId = fields.requestId;
    if (fields.retryAfter !== undefined) this.retryAfter = fields.retryAfter;
    if (fields.data !== undefined) this.data = fields.data;
  }
}

/** The server could not be reached, the connection broke, or a request timed out (after retries). */
export class LongshotNetworkError extends LongshotError {
  override name = 'LongshotNetworkError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** wait() saw the task end in state `failed`. */
export class TaskFailedError extends LongshotError {
  override name = 'TaskFailedError';
  readonly taskId: string;
  readonly failCode: string;
  readonly failMsg: string;
  constructor(readonly task: TaskStatus) {
    super(`task ${task.taskId} failed: ${task.failCode ?? 'UNKNOWN'}${task.failMsg ? ` (${task.failMsg})` : ''}`);
    this.taskId = task.taskId;
    this.failCode = task.failCode ?? 'UNKNOWN';
    this.failMsg = task.failMsg ?? '';
  }
}

/** wait() gave up after `timeoutMs`; the task may still finish on the server. */
export class WaitTimeoutError extends LongshotError {
  override name = 'WaitTimeoutError';
  constructor(
    readonly taskId: string,
    readonly lastStatus: TaskStatus | null,
    timeoutMs: number,
  ) {
    super(`task ${taskId} is still ${lastStatus?.state ?? 'unknown'} after ${Math.round(timeoutMs / 1000)} s`);
  }
}

export type WebhookErrorReason = 'missing_headers' | 'bad_timestamp' | 'stale_timestamp' | 'bad_signature' | 'bad_secret' | 'bad_payload';

/** A webhook request that must not be trusted; `reason` says which check failed. */
export class WebhookVerificationError extends LongshotError {
  override name = 'WebhookVerificationError';
  constructor(
    readonly reason: WebhookErrorReason,
    message: string,
  ) {
    super(message);
  }
}

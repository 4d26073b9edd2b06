import { describe, expect, it } from 'vitest';
import { LongshotApiError, LongshotNetworkError, TaskFailedError, WaitTimeoutError } from '../client/index.js';
import { CliError } from './cli-error.js';
import { classify } from './exit-codes.js';

describe('exit codes of the creator commands', () => {
  const task = { taskId: 'a'.repeat(32), state: 'failed' as const, createTime: 0, resultUrls: [], failCode: 'CONTENT_VIOLATION' };
  it.each([
    [new CliError('bad flag'), 2, 'usage'],
    [new LongshotApiError(400, 'input.prompt is required'), 2, 'usage'],
    [new LongshotApiError(404, 'no task'), 2, 'usage'],
    [new LongshotApiError(401, 'bad key'), 3, 'auth'],
    [new LongshotApiError(403, 'forbidden'), 3, 'auth'],
    [new LongshotApiError(402, 'short'), 4, 'balance'],
    [new LongshotApiError(429, 'slow down'), 5, 'rate_limited'],
    [new TaskFailedError(task), 6, 'task_failed'],
    [new WaitTimeoutError(task.taskId, null, 1000), 7, 'timeout'],
    [new LongshotNetworkError('ECONNREFUSED'), 8, 'unreachable'],
    [new LongshotApiError(502, 'upstream'), 8, 'unreachable'],
    [Object.assign(new Error('interrupted'), { name: 'AbortError' }), 130, 'interrupted'],
    [new TypeError('bug'), 1, 'unexpected'],
  ])('%s → %i', (err, code, kind) => {
    expect(classify(err)).toEqual({ code, kind });
  });
});

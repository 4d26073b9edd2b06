import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { LongshotApiError, LongshotError, LongshotNetworkError, TaskFailedError } from '../client/index.js';

/**
 * What a tool answers. Every failure is a tool error (`isError: true`) whose text an agent can
 * act on: the argument and API field at fault, the fail code, the HTTP status; never a thrown
 * error, which would reach the agent as a protocol error without those.
 */

export const ok = (value: unknown): CallToolResult => ({ content: [{ type: 'text', text: JSON.stringify(value, null, 2) }] });

export class ToolError extends Error {
  constructor(
    message: string,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export function toolError(message: string, detail: Record<string, unknown> = {}): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: `${message}\n${JSON.stringify({ error: { message, ...detail } })}` }] };
}

/** `input.mode` is the tool argument `mode`: tools take the submit body's `input` fields at their top level. */
function argumentOf(field: string): string {
  return field.startsWith('input.') ? field.slice('input.'.length) : field;
}

export function errorResult(err: unknown): CallToolResult {
  if (err instanceof ToolError) return toolError(err.message, err.detail);
  if (err instanceof TaskFailedError) {
    return toolError(`task ${err.taskId} failed with ${err.failCode}${err.failMsg ? `: ${err.failMsg}` : ''}`, {
      taskId: err.taskId,
      failCode: err.failCode,
      failMsg: err.failMsg,
    });
  }
  if (err instanceof LongshotApiError) {
    const detail: Record<string, unknown> = { status: err.status };
    const parts = [`the API refused the call (HTTP ${err.status}): ${err.message}`];
    if (err.field !== undefined) {
      detail.field = err.field;
      detail.argument = argumentOf(err.field);
      parts.push(`argument "${argumentOf(err.field)}" (API field ${err.field})`);
    }
    if (err.failCode !== undefined) {
      detail.failCode = err.failCode;
      parts.push(`fail code ${err.failCode}`);
    }
    if (err.retryAfter !== undefined) {
      detail.retryAfter = err.retryAfter;
      parts.push(`retry after ${err.retryAfter} s`);
    }
    if (err.requestId !== undefined) detail.requestId = err.requestId;
    return toolError(parts.join('; '), detail);
  }
  if (err instanceof LongshotNetworkError) return toolError(`the server could not be reached: ${err.message}`, { kind: 'unreachable' });
  if (err instanceof LongshotError) return toolError(err.message);
  return toolError(`the tool failed: ${err instanceof Error ? err.message : String(err)}`, { kind: 'unexpected' });
}

import type { TaskStatusRow } from '../db/tasks-repo.js';
import type { UrlSigner } from '../storage/url-signer.js';
import type { QueueFields } from './task-progress.js';

/** The `data` of a status response (and of a callback), exactly as APIXO shapes it. */
export interface TaskStatus {
  taskId: string;
  state: string;
  createTime: number;
  resultJson?: string;
  completeTime?: number;
  costTime?: number;
  failCode?: string;
  failMsg?: string;
  /** Longshot addition: a signed JPEG poster of the result, for players and timelines. */
  posterUrl?: string;
  /**
   * Longshot addition: when the task's files were deleted (Unix ms), by retention or by
   * DELETE /api/v1/tasks/{taskId}; after the latter no result URL is given.
   */
  deletedAt?: number;
  /**
   * Longshot additions (docs/api.md, progress), each absent when not known: 0–100, never lower
   * than before, 100 at success; pending tasks ahead of this one; seconds until it should end.
   */
  progress?: number;
  queuePosition?: number;
  etaSeconds?: number;
}

/** The signed URL of a stored result file (`results/<id>.mp4|jpg`), valid until `expiresAt`. */
export function signedFileUrl(signer: UrlSigner, baseUrl: string, key: string, expiresAt: number): string {
  return baseUrl + signer.sign(`/files/${key}`, expiresAt);
}

/** Builds the status data; result URLs are signed now, valid `ttlMs` from this read. */
export function taskStatusView(row: TaskStatusRow, signer: UrlSigner, baseUrl: string, now: number, ttlMs: number, queue?: QueueFields): TaskStatus {
  const createTime = Number(row.create_time);
  const view: TaskStatus = { taskId: row.id, state: row.state, createTime };
  if (row.state === 'success') {
    const completeTime = Number(row.complete_time);
    // A task deleted by request has no file keys left: it keeps its state, without URLs.
    if (row.result_key) view.resultJson = JSON.stringify({ resultUrls: [signedFileUrl(signer, baseUrl, row.result_key, now + ttlMs)] });
    view.completeTime = completeTime;
    view.costTime = completeTime - createTime;
    if (row.poster_key) view.posterUrl = signedFileUrl(signer, baseUrl, row.poster_key, now + ttlMs);
  } else if (row.state === 'failed') {
    // Keys in the order statusResponseJson writes them, so SSE events list them alike.
    view.completeTime = Number(row.complete_time);
    view.failCode = row.fail_code ?? 'INTERNAL_ERROR';
    view.failMsg = row.fail_msg ?? '';
  }
  if (row.deleted_at !== null) view.deletedAt = Number(row.deleted_at);
  // A failed task's progress says nothing useful; a pending one keeps an earlier attempt's.
  if (row.state === 'success') view.progress = 100;
  else if (row.state !== 'failed' && row.progress != null) view.progress = Number(row.progress);
  if (queue?.queuePosition !== undefined) view.queuePosition = queue.queuePosition;
  if (queue?.etaSeconds !== undefined) view.etaSeconds = queue.etaSeconds;
  return view;
}

const str = JSON.stringify;

/**
 * `{"code":200,"message":"success","data":<view>}`: the body of every status answer (the route,
 * the fast path) and of every callback, keys in APIXO's order whatever order the view was built
 * in, built by concatenation: a generic JSON.stringify of the envelope costs more than the rest
 * of a status read.
 */
export function statusResponseJson(v: TaskStatus): string {
  let out = `{"code":200,"message":"success","data":{"taskId":${str(v.taskId)},"state":${str(v.state)},"createTime":${v.createTime}`;
  if (v.resultJson !== undefined) out += `,"resultJson":${str(v.resultJson)}`;
  if (v.completeTime !== undefined) out += `,"completeTime":${v.completeTime}`;
  if (v.costTime !== undefined) out += `,"costTime":${v.costTime}`;
  if (v.failCode !== undefined) out += `,"failCode":${str(v.failCode)}`;
  if (v.failMsg !== undefined) out += `,"failMsg":${str(v.failMsg)}`;
  if (v.posterUrl !== undefined) out += `,"posterUrl":${str(v.posterUrl)}`;
  if (v.deletedAt !== undefined) out += `,"deletedAt":${v.deletedAt}`;
  if (v.progress !== undefined) out += `,"progress":${v.progress}`;
  if (v.queuePosition !== undefined) out += `,"queuePosition":${v.queuePosition}`;
  if (v.etaSeconds !== undefined) out += `,"etaSeconds":${v.etaSeconds}`;
  return `${out}}}`;
}

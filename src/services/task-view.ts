import type { TaskStatusRow } from '../db/tasks-repo.js';
import type { UrlSigner } from '../storage/url-signer.js';

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
}

function resultPath(resultKey: string): string {
  return `/files/${resultKey}`;
}

/** Builds the status data; result URLs are signed now, valid `ttlMs` from this read. */
export function taskStatusView(row: TaskStatusRow, signer: UrlSigner, baseUrl: string, now: number, ttlMs: number): TaskStatus {
  const createTime = Number(row.create_time);
  const view: TaskStatus = { taskId: row.id, state: row.state, createTime };
  if (row.state === 'success' && row.result_key) {
    const completeTime = Number(row.complete_time);
    view.resultJson = JSON.stringify({ resultUrls: [baseUrl + signer.sign(resultPath(row.result_key), now + ttlMs)] });
    view.completeTime = completeTime;
    view.costTime = completeTime - createTime;
    if (row.poster_key) view.posterUrl = baseUrl + signer.sign(resultPath(row.poster_key), now + ttlMs);
  } else if (row.state === 'failed') {
    // Keys in the order statusResponseJson writes them, so SSE events list them alike.
    view.completeTime = Number(row.complete_time);
    view.failCode = row.fail_code ?? 'INTERNAL_ERROR';
    view.failMsg = row.fail_msg ?? '';
  }
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
  return `${out}}}`;
}

import { randomBytes } from 'node:crypto';

/**
 * Task ids are UUIDv7 without dashes: 32 lowercase hex characters whose first 48 bits are the
 * creation time in ms, so ids sort by creation and the primary key doubles as a time index.
 * A per-process counter in the random bits keeps ids monotonic within one millisecond.
 */
let lastMs = 0;
let seq = 0;

export function newTaskId(nowMs: number = Date.now()): string {
  const rnd = randomBytes(10);
  if (nowMs <= lastMs) {
    nowMs = lastMs;
    seq = (seq + 1) & 0xfff;
    if (seq === 0) nowMs = ++lastMs; // 4096 ids in one ms: borrow the next ms to stay ordered
  } else {
    lastMs = nowMs;
    seq = rnd.readUInt16BE(0) & 0x7ff; // random start, room left to count up
  }
  const time = nowMs.toString(16).padStart(12, '0').slice(-12);
  const verSeq = (0x7000 | seq).toString(16);
  const variant = ((rnd[2]! & 0x3f) | 0x80).toString(16).padStart(2, '0');
  return time + verSeq + variant + rnd.subarray(3, 10).toString('hex');
}

const TASK_ID = /^[0-9a-f]{32}$/;

export function isTaskId(value: string): boolean {
  return TASK_ID.test(value);
}

/** Creation time (Unix ms) encoded in a task id. */
export function taskIdTime(id: string): number {
  return parseInt(id.slice(0, 12), 16);
}

/** Short random id for rows that are not tasks (accounts, keys). */
export function newShortId(prefix: string, bytes = 8): string {
  return prefix + randomBytes(bytes).toString('hex');
}

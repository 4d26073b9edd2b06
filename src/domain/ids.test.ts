import { describe, expect, it } from 'vitest';
import { isTaskId, newTaskId, taskIdTime } from './ids.js';

describe('task ids', () => {
  it('are 32 lowercase hex characters carrying the creation time (UUIDv7 without dashes)', () => {
    const id = newTaskId(1_767_965_610_929);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(isTaskId(id)).toBe(true);
    expect(id[12]).toBe('7'); // version nibble
    expect(['8', '9', 'a', 'b']).toContain(id[16]); // RFC 9562 variant
    expect(taskIdTime(id)).toBe(1_767_965_610_929);
  });

  it('sort in creation order, also within one millisecond', () => {
    const ids = Array.from({ length: 5000 }, () => newTaskId(2_000_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('refuses other shapes', () => {
    for (const bad of ['', 'task_123', 'A'.repeat(32), '0'.repeat(31), '0'.repeat(33)]) expect(isTaskId(bad)).toBe(false);
  });
});

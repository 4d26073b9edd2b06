import { describe, expect, it } from 'vitest';
import { createSlots } from './slots.js';

const never = new AbortController().signal;

describe('ComfyUI engine slots', () => {
  it('lets a render start in the slot reserved for its task, and hands a freed slot to the waiter before a new reserve', async () => {
    const slots = createSlots(1);
    const unreserve = slots.reserve('t1');
    expect(unreserve).not.toBeNull();
    expect(slots.reserve('t2')).toBeNull();
    const release = await slots.take('t1', never);
    unreserve!(); // claimed by take: giving it back now does nothing
    expect(slots.reserve('t2')).toBeNull();
    let waited = false;
    const next = slots.take('t2', never).then((r) => {
      waited = true;
      return r;
    });
    release();
    release();
    // The slot went to the waiting render, not to a task choosing now.
    expect(slots.reserve('t3')).toBeNull();
    const second = await next;
    expect(waited).toBe(true);
    second();
    expect(slots.reserve('t3')).not.toBeNull();
  });

  it('drops an aborted waiter from the line, so the slot is not lost to it', async () => {
    const slots = createSlots(1);
    const release = await slots.take('t1', never);
    const stop = new AbortController();
    const gone = slots.take('t2', stop.signal);
    stop.abort(new Error('cancelled'));
    await expect(gone).rejects.toThrow('cancelled');
    release();
    expect(slots.reserve('t3')).not.toBeNull();
  });
});

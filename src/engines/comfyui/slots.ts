/**
 * The prompts one engine may have on its ComfyUI at once (`concurrency`), counted in this process.
 * A route asks `reserve` while it chooses an engine for a task (docs/comfyui.md, several
 * instances), so the slot counts as taken at once: several worker loops choose in the same tick of
 * the event loop, and a check that only looked ("is a slot free?") would let them all pick the same
 * free engine, the later ones then waiting behind the first while another machine idles.
 */
export interface Slots {
  /**
   * Takes a free slot for the task now, or answers null when every slot is taken (or the task
   * holds one already). The function answered gives the slot back unless `take` has claimed it;
   * calling it again, or after `take`, does nothing.
   */
  reserve(taskId: string): (() => void) | null;
  /**
   * The slot reserved for the task, else the next one to come free: waiters are served in order,
   * and an aborted waiter leaves the line. The function answered frees the slot (once).
   */
  take(taskId: string, signal: AbortSignal): Promise<() => void>;
}

export function createSlots(limit: number): Slots {
  let busy = 0;
  const waiting: (() => void)[] = [];
  const reserved = new Map<string, () => void>();

  /** One held slot. Freeing it hands it straight to the first waiter, so a `reserve` in between cannot take it from the line. */
  const held = (): (() => void) => {
    let holding = true;
    return () => {
      if (!holding) return;
      holding = false;
      const next = waiting.shift();
      if (next) next();
      else busy--;
    };
  };

  return {
    reserve(taskId) {
      if (busy >= limit || reserved.has(taskId)) return null;
      busy++;
      const free = held();
      reserved.set(taskId, free);
      return () => {
        if (reserved.get(taskId) !== free) return;
        reserved.delete(taskId);
        free();
      };
    },
    async take(taskId, signal) {
      signal.throwIfAborted();
      const mine = reserved.get(taskId);
      if (mine) {
        reserved.delete(taskId);
        return mine;
      }
      if (busy < limit) {
        busy++;
        return held();
      }
      await new Promise<void>((resolve, reject) => {
        const turn = (): void => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = (): void => {
          waiting.splice(waiting.indexOf(turn), 1);
          reject(signal.reason);
        };
        waiting.push(turn);
        signal.addEventListener('abort', onAbort, { once: true });
      });
      return held();
    },
  };
}

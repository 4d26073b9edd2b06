/**
 * In-process wake-up for idle workers. A wake is only a hint: workers also poll, so a lost wake
 * (another process submitted, or the wake raced a wait) costs at most one poll interval.
 */
export interface Waker {
  wake(): void;
  /** Resolves on the next wake or after `ms`, whichever comes first. */
  wait(ms: number): Promise<void>;
}

export function createWaker(): Waker {
  let waiters: Array<() => void> = [];
  return {
    wake() {
      const now = waiters;
      waiters = [];
      for (const w of now) w();
    },
    wait(ms) {
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== done);
          resolve();
        }, ms);
        waiters.push(done);
      });
    },
  };
}

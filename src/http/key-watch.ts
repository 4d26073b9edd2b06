import type { Authenticator } from './auth.js';

/** A held request's view of its key: `signal` aborts when the client leaves or the key is refused. */
interface HeldKey {
  readonly signal: AbortSignal;
  /** True once the key was refused (revoked) while the request was held. */
  readonly revoked: boolean;
  /** The request is over: stop watching its key. */
  release(): void;
}

export interface KeyWatch {
  /** Watches the key of `header` (the request's `Authorization`) until released or `gone` aborts. */
  hold(header: string | undefined, gone: AbortSignal): HeldKey;
}

/**
 * How often held keys are looked at. The look is the authenticator's own cached answer (the
 * cache lives 1 s, so a key costs at most one database lookup a second however many requests
 * hold it), and a quarter of a second puts a revoked key's held requests within ~1.25 s of the
 * revocation, against the 1 s of a new request.
 */
const CHECK_MS = 250;

/**
 * Revocation for requests that are already admitted and held open (long-poll, SSE): their key
 * was checked once, at the start, and would otherwise keep working for as long as they stay
 * open. One timer for every held request, running only while there are some, and one check per
 * distinct key, not per request: 10,000 readers on one key cost one cache lookup per check.
 */
export function createKeyWatch(auth: Authenticator, everyMs = CHECK_MS): KeyWatch {
  const held = new Map<string, Set<() => void>>();
  let timer: NodeJS.Timeout | null = null;
  let checking = false;

  const refuse = (header: string) => {
    const ends = held.get(header);
    held.delete(header);
    for (const end of ends ?? []) end();
  };
  const check = async () => {
    if (checking) return; // a slow database: the next tick looks again
    checking = true;
    try {
      await Promise.all(
        [...held.keys()].map(async (header) => {
          const known = auth.cached(header);
          // A failed lookup (the database is down) is no verdict on the key: held requests stay.
          const caller = known !== undefined ? known : await auth.authenticate(header).catch(() => undefined);
          if (caller === null) refuse(header);
        }),
      );
    } finally {
      checking = false;
    }
  };
  const forget = (header: string, end: () => void) => {
    const ends = held.get(header);
    if (ends?.delete(end) && ends.size === 0) held.delete(header);
    if (held.size === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  };

  return {
    hold(header, gone) {
      const ctrl = new AbortController();
      let revoked = false;
      const end = () => {
        revoked = true;
        ctrl.abort();
      };
      const leave = () => ctrl.abort();
      if (header === undefined)
        end(); // cannot happen for an admitted request; refuse rather than hold
      else {
        let ends = held.get(header);
        if (!ends) {
          ends = new Set();
          held.set(header, ends);
        }
        ends.add(end);
        // Not kept alive by this timer: shutdown waits for held requests, not for the watch.
        timer ??= setInterval(() => void check(), everyMs).unref();
      }
      if (gone.aborted) leave();
      else gone.addEventListener('abort', leave, { once: true });
      return {
        signal: ctrl.signal,
        get revoked() {
          return revoked;
        },
        release() {
          gone.removeEventListener('abort', leave);
          if (header !== undefined) forget(header, end);
        },
      };
    },
  };
}

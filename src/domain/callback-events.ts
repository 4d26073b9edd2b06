import type { Validated } from './validate-submit.js';

const invalid = (error: string) => ({ ok: false as const, field: 'callback_events', error });

/** The moments a callback task can be told about (docs/webhooks.md, "Events"). */
export const CALLBACK_EVENTS = ['processing', 'progress', 'success', 'failed'] as const;
export type CallbackEvent = (typeof CALLBACK_EVENTS)[number];

/** What a task without `callback_events` is sent: its end, exactly as before the field existed. */
const DEFAULT_EVENTS: readonly CallbackEvent[] = ['success', 'failed'];

/** Progress events of one task are at most this far apart, so a receiver is not flooded. */
export const PROGRESS_EVENT_INTERVAL_MS = 5000;

/**
 * Reads the optional `callback_events` field. Absent or null: the default (stored as null, so a
 * task that never named the field is indistinguishable from one made before it existed).
 */
export function parseCallbackEvents(value: unknown): Validated<readonly CallbackEvent[] | null> {
  if (value === undefined || value === null) return { ok: true, value: null };
  if (!Array.isArray(value)) return invalid(`callback_events must be an array of ${CALLBACK_EVENTS.join(', ')}`);
  if (value.length === 0) return invalid('callback_events must name at least one event');
  const seen = new Set<CallbackEvent>();
  for (const item of value) {
    if (typeof item !== 'string' || !(CALLBACK_EVENTS as readonly string[]).includes(item)) {
      return invalid(`callback_events items must be one of ${CALLBACK_EVENTS.join(', ')}`);
    }
    if (seen.has(item as CallbackEvent)) return invalid(`callback_events names "${item}" twice`);
    seen.add(item as CallbackEvent);
  }
  return { ok: true, value: CALLBACK_EVENTS.filter((e) => seen.has(e)) };
}

/** The stored form: null for the default, else the events joined by commas. */
export function storedCallbackEvents(events: readonly CallbackEvent[] | null): string | null {
  return events === null ? null : events.join(',');
}

/** Whether a task whose stored `callback_events` is `stored` wants `event`. */
export function wantsEvent(stored: string | null, event: CallbackEvent): boolean {
  const events = stored === null ? DEFAULT_EVENTS : stored.split(',');
  return events.includes(event);
}

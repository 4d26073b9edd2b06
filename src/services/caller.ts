import type { Config } from '../config.js';
import type { KeySettings } from '../db/accounts-repo.js';
import type { Model, Strategy } from '../domain/models.js';

/** Who is calling: the account, the key, and what the key may do. */
export interface Caller {
  accountId: string;
  keyId: string;
  settings: KeySettings;
}

export interface Limits {
  /** Requests per minute; 0 = unlimited. */
  submitRpm: number;
  statusRpm: number;
  /** Pending plus processing tasks of the key; 0 = unlimited. */
  maxUnfinished: number;
}

/** The key's own limits where set, else the service defaults (docs/contract.md §7). */
export function effectiveLimits(settings: KeySettings, config: Config): Limits {
  return {
    submitRpm: settings.submitRpm ?? config.defaultLimits.submitRpm,
    statusRpm: settings.statusRpm ?? config.defaultLimits.statusRpm,
    maxUnfinished: settings.maxUnfinished ?? config.defaultLimits.maxUnfinished,
  };
}

export function mayUseModel(settings: KeySettings, model: Model): boolean {
  return settings.models === null || settings.models.includes(model);
}

export function mayUseStrategy(settings: KeySettings, strategy: Strategy): boolean {
  return settings.strategies === null || settings.strategies.includes(strategy);
}

/**
 * Why the key may not act on this task, or null when it may. Every route that names a task
 * (status, events, cancel, webhook log and redelivery, an extend's source) asks this one
 * question: the key's permissions must cover the task's model and provider, whichever key of the
 * account made it, so no route is a side door to what the others refuse.
 */
export function taskRefusal(settings: KeySettings, task: { model: string; provider: string }): string | null {
  if (settings.models !== null && !(settings.models as string[]).includes(task.model)) {
    return `this API key may not use model ${task.model}, the model of this task`;
  }
  if (settings.strategies !== null && !(settings.strategies as string[]).includes(task.provider)) {
    return `this API key may not use provider ${task.provider}, the provider of this task`;
  }
  return null;
}

import type { KeySettings } from '../db/accounts-repo.js';
import { MODELS, STRATEGIES, type Strategy } from '../domain/models.js';
import { CliError } from './cli-error.js';

/** The parseArgs options shared by `keys create` and `keys update`. */
export const KEY_OPTIONS = {
  label: { type: 'string' },
  models: { type: 'string' },
  strategies: { type: 'string' },
  'default-strategy': { type: 'string' },
  'submit-rpm': { type: 'string' },
  'status-rpm': { type: 'string' },
  'max-unfinished': { type: 'string' },
} as const;

type Flags = Partial<Record<keyof typeof KEY_OPTIONS, string | undefined>>;

/** Only the flags given become settings, so `keys update` changes just those. */
export function keySettingsFromFlags(flags: Flags): Partial<KeySettings> {
  const out: Partial<KeySettings> = {};
  if (flags.models !== undefined) out.models = list(flags.models, MODELS, '--models');
  if (flags.strategies !== undefined) out.strategies = list(flags.strategies, STRATEGIES, '--strategies');
  if (flags['default-strategy'] !== undefined) {
    const s = flags['default-strategy'];
    if (s === 'default') out.defaultStrategy = null;
    else if ((STRATEGIES as readonly string[]).includes(s)) out.defaultStrategy = s as Strategy;
    else throw new CliError(`--default-strategy ${s} is not one of ${STRATEGIES.join(', ')}`);
  }
  if (flags['submit-rpm'] !== undefined) out.submitRpm = limit(flags['submit-rpm'], '--submit-rpm');
  if (flags['status-rpm'] !== undefined) out.statusRpm = limit(flags['status-rpm'], '--status-rpm');
  if (flags['max-unfinished'] !== undefined) out.maxUnfinished = limit(flags['max-unfinished'], '--max-unfinished');
  return out;
}

function list<T extends string>(raw: string, allowed: readonly T[], flag: string): T[] | null {
  if (raw === 'all') return null;
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const i of items) if (!(allowed as readonly string[]).includes(i)) throw new CliError(`${flag}: ${i} is not one of ${allowed.join(', ')}`);
  if (items.length === 0) throw new CliError(`${flag} needs at least one of ${allowed.join(', ')}, or "all"`);
  return items as T[];
}

function limit(raw: string, flag: string): number | null {
  if (raw === 'default') return null;
  if (!/^\d{1,9}$/.test(raw)) throw new CliError(`${flag} must be a whole number (0 = unlimited) or "default"`);
  return Number(raw);
}

import type { Refusal } from '../admin/fields.js';
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
  'budget-usd': { type: 'string' },
  'budget-period': { type: 'string' },
} as const;

type Flags = Partial<Record<keyof typeof KEY_OPTIONS, string | undefined>>;

/**
 * Flag text becomes the admin API's field values (`--models all` is `models: null`, `--submit-rpm
 * default` is `submitRpm: null`, digits are numbers), so src/admin/keys.ts judges both with one set
 * of rules. Anything else stays text, which those rules then refuse. Only the flags given become
 * fields, so `keys update` changes just those.
 */
export function keyFieldsFromFlags(flags: Flags): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const list = (raw: string) =>
    raw === 'all'
      ? null
      : raw
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  const orDefault = (raw: string) => (raw === 'default' ? null : flagNumber(raw));
  if (flags.label !== undefined) out.label = flags.label;
  if (flags.models !== undefined) out.models = list(flags.models);
  if (flags.strategies !== undefined) out.strategies = list(flags.strategies);
  if (flags['default-strategy'] !== undefined) out.defaultStrategy = flags['default-strategy'] === 'default' ? null : flags['default-strategy'];
  if (flags['submit-rpm'] !== undefined) out.submitRpm = orDefault(flags['submit-rpm']);
  if (flags['status-rpm'] !== undefined) out.statusRpm = orDefault(flags['status-rpm']);
  if (flags['max-unfinished'] !== undefined) out.maxUnfinished = orDefault(flags['max-unfinished']);
  if (flags['budget-usd'] !== undefined) out.budgetUsd = flagNumber(flags['budget-usd']);
  if (flags['budget-period'] !== undefined) out.budgetPeriod = flags['budget-period'];
  return out;
}

/** Plain decimal text as a number (`12.50`, `60`); anything else (`0x10`, `1e1`, ` 5`) stays text. */
export function flagNumber(raw: string): number | string {
  return /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
}

/** How the CLI spells each admin API field: its flag or its positional argument. */
const FLAG_NAMES: Record<string, string> = {
  name: 'NAME',
  creditUsd: '--credit',
  usd: 'USD',
  note: '--note',
  limit: '--limit',
  account: '--account',
  keyId: 'KEY_ID',
  label: '--label',
  models: '--models',
  strategies: '--strategies',
  defaultStrategy: '--default-strategy',
  submitRpm: '--submit-rpm',
  statusRpm: '--status-rpm',
  maxUnfinished: '--max-unfinished',
  budgetUsd: '--budget-usd',
  budgetPeriod: '--budget-period',
};

/** A refusal of the admin services as the CLI's usage error (exit 2), naming the flag. */
export function refusalError(r: Refusal): CliError {
  // The CLI always sends an object; only an update without any option is refused as a body.
  if (r.field === 'body') return new CliError('give at least one option to change; see --help');
  if (r.status === 400 && r.reason !== undefined) return new CliError(`${FLAG_NAMES[r.field] ?? r.field} ${r.reason}`);
  return new CliError(r.error);
}

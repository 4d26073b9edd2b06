import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('LONGSHOT_PG_NOTIFY', () => {
  it('is on by default and turns off with off/false/0', () => {
    expect(loadConfig({}).pgNotify).toBe(true);
    for (const v of ['off', 'false', '0', 'OFF']) expect(loadConfig({ LONGSHOT_PG_NOTIFY: v }).pgNotify).toBe(false);
    expect(loadConfig({ LONGSHOT_PG_NOTIFY: 'on' }).pgNotify).toBe(true);
  });

  it('stops the start on a value it does not know', () => {
    expect(() => loadConfig({ LONGSHOT_PG_NOTIFY: 'sometimes' })).toThrow(ConfigError);
  });
});

describe('LONGSHOT_STATUS_CACHE', () => {
  it('is on by default and turns off with off', () => {
    expect(loadConfig({}).statusCache).toBe(true);
    expect(loadConfig({ LONGSHOT_STATUS_CACHE: 'off' }).statusCache).toBe(false);
    expect(() => loadConfig({ LONGSHOT_STATUS_CACHE: 'maybe' })).toThrow(ConfigError);
  });
});

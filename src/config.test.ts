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

describe('LONGSHOT_PG_LISTEN_URL', () => {
  const db = { DATABASE_URL: 'postgres://app@pooler:6432/longshot' };
  it('is DATABASE_URL unless set, and a postgres URL of its own when set', () => {
    expect(loadConfig(db).pgListenUrl).toBeNull();
    expect(loadConfig({ ...db, LONGSHOT_PG_LISTEN_URL: ' postgres://app@db:5432/longshot ' }).pgListenUrl).toBe('postgres://app@db:5432/longshot');
  });

  it('stops the start naming itself when it is no PostgreSQL URL, or nothing would listen on it', () => {
    expect(() => loadConfig({ ...db, LONGSHOT_PG_LISTEN_URL: 'http://db:5432' })).toThrow(/LONGSHOT_PG_LISTEN_URL is not valid/);
    expect(() => loadConfig({ LONGSHOT_PG_LISTEN_URL: 'postgres://db/longshot' })).toThrow(/without DATABASE_URL/);
    expect(() => loadConfig({ ...db, LONGSHOT_PG_NOTIFY: 'off', LONGSHOT_PG_LISTEN_URL: 'postgres://db/longshot' })).toThrow(/LONGSHOT_PG_NOTIFY=off/);
  });
});

describe('LONGSHOT_PG_POOL_SIZE', () => {
  it('is 10 connections per process unless set, and refuses what is no whole number from 1 to 1000', () => {
    expect(loadConfig({}).pgPoolSize).toBe(10);
    expect(loadConfig({ LONGSHOT_PG_POOL_SIZE: '25' }).pgPoolSize).toBe(25);
    for (const v of ['0', '1001', '2.5', 'many']) expect(() => loadConfig({ LONGSHOT_PG_POOL_SIZE: v })).toThrow(/LONGSHOT_PG_POOL_SIZE/);
  });
});

describe('LONGSHOT_STATUS_CACHE', () => {
  it('is on by default and turns off with off', () => {
    expect(loadConfig({}).statusCache).toBe(true);
    expect(loadConfig({ LONGSHOT_STATUS_CACHE: 'off' }).statusCache).toBe(false);
    expect(() => loadConfig({ LONGSHOT_STATUS_CACHE: 'maybe' })).toThrow(ConfigError);
  });
});

describe('HTTP server limits', () => {
  it('defaults every timeout and the connection cap', () => {
    expect(loadConfig({}).http).toEqual({ requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 5000, maxConnections: 10_000 });
    const set = loadConfig({
      LONGSHOT_REQUEST_TIMEOUT_MS: '2000',
      LONGSHOT_HEADERS_TIMEOUT_MS: '500',
      LONGSHOT_KEEPALIVE_TIMEOUT_MS: '700',
      LONGSHOT_MAX_CONNECTIONS: '0',
    });
    expect(set.http).toEqual({ requestTimeoutMs: 2000, headersTimeoutMs: 500, keepAliveTimeoutMs: 700, maxConnections: 0 });
  });

  it('stops the start on a headers timeout longer than the request timeout, or a bad value', () => {
    expect(() => loadConfig({ LONGSHOT_REQUEST_TIMEOUT_MS: '5000', LONGSHOT_HEADERS_TIMEOUT_MS: '6000' })).toThrow(/LONGSHOT_HEADERS_TIMEOUT_MS/);
    for (const [name, value] of [
      ['LONGSHOT_REQUEST_TIMEOUT_MS', '0'],
      ['LONGSHOT_KEEPALIVE_TIMEOUT_MS', 'soon'],
      ['LONGSHOT_MAX_CONNECTIONS', '-1'],
    ]) {
      expect(() => loadConfig({ [name!]: value }), name).toThrow(ConfigError);
    }
  });
});

describe('unknown upstream outcomes', () => {
  it('waits 2 h from the submit by default and checks late outcomes for 24 h', () => {
    const { upstream } = loadConfig({});
    expect(upstream.deadlineMs).toBe(600_000);
    expect(upstream.hardLimitMs).toBe(7_200_000);
    expect(upstream.lateCheckMs).toBe(86_400_000);
    const set = loadConfig({ LONGSHOT_UPSTREAM_HARD_LIMIT_SECONDS: '900', LONGSHOT_UPSTREAM_LATE_CHECK_HOURS: '0.5' }).upstream;
    expect([set.hardLimitMs, set.lateCheckMs]).toEqual([900_000, 1_800_000]);
  });

  it('never puts the hard limit before the soft deadline, and stops the start on a bad value', () => {
    expect(loadConfig({ LONGSHOT_UPSTREAM_DEADLINE_SECONDS: '1200', LONGSHOT_UPSTREAM_HARD_LIMIT_SECONDS: '60' }).upstream.hardLimitMs).toBe(1_200_000);
    expect(() => loadConfig({ LONGSHOT_UPSTREAM_HARD_LIMIT_SECONDS: '2h' })).toThrow(/LONGSHOT_UPSTREAM_HARD_LIMIT_SECONDS/);
    expect(() => loadConfig({ LONGSHOT_UPSTREAM_LATE_CHECK_HOURS: '-1' })).toThrow(ConfigError);
  });
});

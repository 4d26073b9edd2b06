import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LongshotApiError, LongshotClient, LongshotNetworkError, parseRetryAfter, WaitTimeoutError } from './index.js';
import { abortableSleep } from './retry.js';

/**
 * The client's retry and polling rules against a stand-in HTTP server that speaks the APIXO
 * envelope (standing in for a rate-limited APIXO or Longshot). Sleeps are injected and recorded,
 * so the delays the client chose are asserted without waiting for them.
 */

interface Seen {
  method: string;
  url: string;
  at: number;
  headers: IncomingMessage['headers'];
  body: string;
}
type Handler = (req: Seen, n: number, res: ServerResponse) => void;

let server: Server | null = null;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
});

async function standIn(handler: Handler): Promise<{ baseUrl: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const s: Seen = { method: req.method!, url: req.url!, at: Date.now(), headers: req.headers, body };
      seen.push(s);
      handler(s, seen.length, res);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}/api/v1`, seen };
}

function reply(res: ServerResponse, status: number, data: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req-${status}`, ...headers });
  res.end(JSON.stringify({ code: status, message: status === 200 ? 'success' : 'Error', data }));
}

function recordingSleep(delays: number[], real = false) {
  return (ms: number, signal?: AbortSignal) => {
    delays.push(ms);
    return real ? abortableSleep(ms, signal) : Promise.resolve();
  };
}

describe('retries', () => {
  it('honours Retry-After: 1 on a 429, then succeeds', async () => {
    const { baseUrl, seen } = await standIn((_req, n, res) => {
      if (n === 1) reply(res, 429, { error: 'request rate limit reached', retryAfter: 1 }, { 'retry-after': '1' });
      else reply(res, 200, 9.6);
    });
    const delays: number[] = [];
    const client = new LongshotClient({ baseUrl, apiKey: 'k', sleep: recordingSleep(delays, true) });
    expect(await client.balance()).toBe(9.6);
    expect(seen).toHaveLength(2);
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeGreaterThanOrEqual(1000);
    // The second request really came after the pause the server asked for.
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(950);
    expect(seen[1]!.headers.authorization).toBe('Bearer k');
  });

  it('reads Retry-After as an HTTP date', async () => {
    const { baseUrl } = await standIn((_req, n, res) => {
      if (n === 1) reply(res, 503, { error: 'starting up' }, { 'retry-after': new Date(Date.now() + 5000).toUTCString() });
      else reply(res, 200, 1);
    });
    const delays: number[] = [];
    await new LongshotClient({ baseUrl, apiKey: 'k', sleep: recordingSleep(delays) }).balance();
    // Second resolution of HTTP dates: between 4 and 5 s (plus jitter).
    expect(delays[0]).toBeGreaterThanOrEqual(3000);
    expect(delays[0]).toBeLessThanOrEqual(5250);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:58 GMT'))).toBe(2000);
    expect(parseRetryAfter('soon', 0)).toBeNull();
  });

  it('backs off exponentially on 5xx and gives up after maxRetries', async () => {
    const { baseUrl, seen } = await standIn((_req, _n, res) => reply(res, 502, { error: 'upstream failed' }));
    const delays: number[] = [];
    const client = new LongshotClient({ baseUrl, apiKey: 'k', maxRetries: 3, sleep: recordingSleep(delays), random: () => 0.5 });
    const err = await client.balance().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LongshotApiError);
    expect(err).toMatchObject({ status: 502, message: 'upstream failed', requestId: 'req-502' });
    expect(seen).toHaveLength(4);
    expect(delays).toEqual([375, 750, 1500]);
  });

  it('does not retry a 4xx, and does not wait for a Retry-After beyond its limit', async () => {
    const { baseUrl, seen } = await standIn((req, _n, res) => {
      if (req.url.includes('current-balance')) reply(res, 429, { error: 'slow down', retryAfter: 3600 }, { 'retry-after': '3600' });
      else reply(res, 400, { error: 'input.prompt is required', field: 'input.prompt' });
    });
    const delays: number[] = [];
    const client = new LongshotClient({ baseUrl, apiKey: 'k', sleep: recordingSleep(delays) });
    expect(await client.generate({ prompt: '' }).catch((e: unknown) => e)).toMatchObject({ status: 400, field: 'input.prompt' });
    expect(await client.balance().catch((e: unknown) => e)).toMatchObject({ status: 429, retryAfter: 3600 });
    expect(seen).toHaveLength(2);
    expect(delays).toEqual([]);
  });

  it('keeps one Idempotency-Key across the retries of a submit', async () => {
    const { baseUrl, seen } = await standIn((_req, n, res) => {
      if (n === 1) reply(res, 500, { error: 'oops' });
      else reply(res, 200, { taskId: 'a'.repeat(32) });
    });
    const client = new LongshotClient({ baseUrl, apiKey: 'k', sleep: recordingSleep([]) });
    expect(await client.generate({ prompt: 'x', mode: 'fast' }, { provider: 'auto' })).toBe('a'.repeat(32));
    const keys = seen.map((s) => s.headers['idempotency-key']);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(JSON.parse(seen[0]!.body)).toEqual({ request_type: 'async', provider: 'auto', input: { prompt: 'x', mode: 'fast' } });
    expect(seen[0]!.headers['content-type']).toBe('application/json');
  });

  it('retries an unreachable server, then throws LongshotNetworkError', async () => {
    const { baseUrl } = await standIn(() => {});
    await new Promise<void>((r) => server!.close(() => r()));
    server = null;
    const delays: number[] = [];
    const err = await new LongshotClient({ baseUrl, apiKey: 'k', maxRetries: 2, sleep: recordingSleep(delays) }).balance().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LongshotNetworkError);
    expect((err as Error).message).toContain('ECONNREFUSED');
    expect(delays).toHaveLength(2);
  });

  it('treats an envelope code >= 400 as an error even under HTTP 200', async () => {
    const { baseUrl } = await standIn((_req, _n, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 402, message: 'Insufficient balance', data: { error: 'balance too low', failCode: 'INSUFFICIENT_BALANCE' } }));
    });
    const err = await new LongshotClient({ baseUrl, apiKey: 'k' }).balance().catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 402, failCode: 'INSUFFICIENT_BALANCE' });
  });
});

describe('status and wait', () => {
  const ID = 'b'.repeat(32);

  function taskServer(states: string[], createTime = Date.now()) {
    let polls = 0;
    return standIn((req, _n, res) => {
      if (req.method === 'POST') return reply(res, 200, { taskId: ID });
      const state = states[Math.min(polls++, states.length - 1)]!;
      const data: Record<string, unknown> = { taskId: ID, state, createTime, extraField: 'kept' };
      if (state === 'success') {
        Object.assign(data, { resultJson: JSON.stringify({ resultUrls: ['https://files.example/x.mp4'] }), completeTime: createTime + 5, costTime: 5 });
      }
      reply(res, 200, data);
    });
  }

  it('parses resultJson into resultUrls and keeps every raw field', async () => {
    const { baseUrl, seen } = await taskServer(['success']);
    const s = await new LongshotClient({ baseUrl, apiKey: 'k' }).status('veo-3-1-extend', ID);
    expect(seen[0]!.url).toBe(`/api/v1/statusTask/veo-3-1-extend?taskId=${ID}`);
    expect(s).toMatchObject({ taskId: ID, state: 'success', costTime: 5, extraField: 'kept', resultUrls: ['https://files.example/x.mp4'] });
    expect(typeof s.resultJson).toBe('string');
  });

  it('follows the seed advice: first poll 60 s after a quality submit, then every 10 s', async () => {
    const { baseUrl } = await taskServer(['pending', 'processing', 'success']);
    const delays: number[] = [];
    const client = new LongshotClient({ baseUrl, apiKey: 'k', sleep: recordingSleep(delays) });
    await client.generate({ prompt: 'x', mode: 'quality' });
    const progress: string[] = [];
    const done = await client.wait('veo-3-1', ID, { mode: 'quality', onProgress: (s, p) => progress.push(`${p.polls}:${s.state}`) });
    expect(done.resultUrls).toEqual(['https://files.example/x.mp4']);
    expect(progress).toEqual(['1:pending', '2:processing', '3:success']);
    expect(delays[0]).toBeGreaterThan(59_000);
    expect(delays[0]).toBeLessThanOrEqual(60_000);
    expect(delays.slice(1)).toEqual([10_000, 10_000]);
  });

  it('polls a task it did not submit at once, then from its createTime (30 s for fast)', async () => {
    const { baseUrl } = await taskServer(['processing', 'success'], Date.now() - 12_000);
    const delays: number[] = [];
    await new LongshotClient({ baseUrl, apiKey: 'k', sleep: recordingSleep(delays) }).wait('veo-3-1', ID);
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeGreaterThan(17_000);
    expect(delays[0]).toBeLessThanOrEqual(18_000);
  });

  it('gives up with WaitTimeoutError after timeoutMs', async () => {
    const { baseUrl } = await taskServer(['processing']);
    const client = new LongshotClient({ baseUrl, apiKey: 'k' });
    const err = await client.wait('veo-3-1', ID, { firstPollMs: 0, intervalMs: 20, timeoutMs: 150 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as WaitTimeoutError).lastStatus?.state).toBe('processing');
  });

  it('stops when the signal aborts', async () => {
    const { baseUrl } = await taskServer(['processing']);
    const controller = new AbortController();
    const pending = new LongshotClient({ baseUrl, apiKey: 'k' }).wait('veo-3-1', ID, { signal: controller.signal, intervalMs: 60_000 });
    setTimeout(() => controller.abort(new Error('stop')), 50);
    await expect(pending).rejects.toThrow('stop');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstResponse, rawConnect } from './support/raw-http.js';
import { startTestService, type TestService } from './support/service.js';

/** Requests Node or Fastify used to answer in their own words, and budget and body rules. */
let t: TestService;
beforeAll(async () => {
  t = await startTestService({}, { workers: false }); // no workers: submitted tasks stay pending
});
afterAll(() => t?.close());

const GEN = '/api/v1/generateTask/veo-3-1';
const submitBody = JSON.stringify({ input: { prompt: 'hardening', mode: 'fast' } });

/** Sends `request` on its own connection and reads the answer until the server closes it. */
async function rawExchange(request: string): Promise<ReturnType<typeof firstResponse>> {
  const c = await rawConnect(t.url, request);
  try {
    await c.whenClosed(15_000);
    return firstResponse(c.received());
  } finally {
    c.destroy();
  }
}

describe('requests refused by the HTTP parser', () => {
  it('answers headers over 16 KB with 431 in the envelope', async () => {
    const res = await rawExchange(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(res?.status).toBe(431);
    expect(res?.headers).toMatch(/content-type: application\/json/i);
    expect(res?.headers).toMatch(/x-request-id: \S+/i);
    expect(res?.body).toMatchObject({ code: 431, message: 'Request header fields too large', data: { error: expect.stringMatching(/header/) } });
  });

  it('answers a malformed request with 400 in the envelope', async () => {
    const res = await rawExchange('NOT AN HTTP REQUEST\r\n\r\n');
    expect(res?.status).toBe(400);
    expect(res?.body).toMatchObject({ code: 400, message: 'Invalid request', data: { error: expect.any(String) } });
  });
});

describe('HEAD is a read', () => {
  it('counts HEAD against the status budget, not the submit budget', async () => {
    const { key } = await t.newAccount('head-budget', 10, { submitRpm: 1, statusRpm: 100 });
    for (let i = 0; i < 3; i++) {
      const head = await fetch(`${t.url}/api/v1/apikeys/current-balance`, { method: 'HEAD', headers: { authorization: `Bearer ${key}` } });
      expect(head.status).toBe(200);
      expect(head.headers.get('ratelimit-policy')).toBe('"status";q=100;w=60');
    }
    // The one submit of the minute is still there.
    expect((await t.api('POST', GEN, { key, rawBody: submitBody, headers: { 'content-type': 'application/json' } })).status).toBe(200);
  });
});

describe('request bodies', () => {
  it('refuses a Content-Encoding with 415 naming Content-Encoding', async () => {
    const res = await t.api('POST', GEN, { rawBody: submitBody, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } });
    expect(res.status).toBe(415);
    expect(res.body).toMatchObject({ code: 415, message: 'Unsupported media type', data: { field: 'Content-Encoding' } });
    expect(res.headers.get('accept-encoding')).toBe('identity');
    const identity = await t.api('POST', GEN, { rawBody: submitBody, headers: { 'content-type': 'application/json', 'content-encoding': 'identity' } });
    expect(identity.status).toBe(200);
  });

  it('names Content-Type when a submit is not application/json, whatever the body', async () => {
    const bare = await fetch(t.url + GEN, { method: 'POST', headers: { authorization: `Bearer ${t.key}` }, body: new TextEncoder().encode(submitBody) });
    const text = await t.api('POST', GEN, { rawBody: submitBody, headers: { 'content-type': 'text/plain' } });
    const empty = await t.api('POST', GEN, {});
    for (const res of [{ status: bare.status, body: await bare.json() }, text, empty]) {
      expect(res.status).toBe(400);
      expect(res.body.data.field).toBe('Content-Type');
    }
    const charset = await t.api('POST', GEN, { rawBody: submitBody, headers: { 'content-type': 'application/json; charset=utf-8' } });
    expect(charset.status).toBe(200);
    const emptyJson = await t.api('POST', GEN, { rawBody: '', headers: { 'content-type': 'application/json' } });
    expect(emptyJson.status).toBe(400);
    expect(emptyJson.body.data.field).toBe('body');
  });

  it('cancels with Content-Type: application/json and an empty body', async () => {
    const taskId = (await t.api('POST', GEN, { body: { input: { prompt: 'to cancel', mode: 'fast' } } })).body.data.taskId;
    const res = await t.api('POST', `/api/v1/tasks/${taskId}/cancel`, { rawBody: '', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.body.code).toBe(200);
  });
});

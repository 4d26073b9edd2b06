import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { LongshotClient, verifyWebhook, WebhookVerificationError } from './index.js';

/** verifyWebhook against signatures made by the reference `standardwebhooks` library. */
const secret = `whsec_${randomBytes(24).toString('base64')}`;
const payload = JSON.stringify({
  code: 200,
  message: 'success',
  data: { taskId: 'c'.repeat(32), state: 'success', createTime: 1, resultJson: '{"resultUrls":["https://x/y.mp4"]}', completeTime: 2, costTime: 1 },
});

function signed(body: string, at: Date = new Date(), withSecret = secret): Record<string, string> {
  const id = `msg_${randomBytes(8).toString('hex')}`;
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(withSecret).sign(id, at, body),
  };
}

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WebhookVerificationError);
    return (err as WebhookVerificationError).reason;
  }
  return 'accepted';
}

describe('verifyWebhook', () => {
  it('accepts a valid delivery and returns the parsed payload', () => {
    const headers = signed(payload);
    const got = verifyWebhook(payload, headers, secret);
    expect(got.data.state).toBe('success');
    // Raw bytes and Fetch Headers work too, and so does the client method.
    expect(verifyWebhook(Buffer.from(payload), new Headers(headers), secret)).toEqual(got);
    expect(new LongshotClient({ apiKey: 'unused' }).verifyWebhook(payload, headers, secret)).toEqual(got);
  });

  it('accepts when any one of several signatures matches (secret rotation)', () => {
    const headers = signed(payload);
    const other = signed(payload, new Date(), `whsec_${randomBytes(24).toString('base64')}`);
    headers['webhook-signature'] = `${other['webhook-signature']} v2,abc ${headers['webhook-signature']}`;
    expect(reason(() => verifyWebhook(payload, headers, secret))).toBe('accepted');
  });

  it('rejects a tampered body', () => {
    const headers = signed(payload);
    expect(reason(() => verifyWebhook(payload.replace('success', 'failed'), headers, secret))).toBe('bad_signature');
  });

  it('rejects a signature made with another secret', () => {
    const headers = signed(payload, new Date(), `whsec_${randomBytes(24).toString('base64')}`);
    expect(reason(() => verifyWebhook(payload, headers, secret))).toBe('bad_signature');
  });

  it('rejects a timestamp more than 5 minutes away, in either direction', () => {
    const old = signed(payload, new Date(Date.now() - 6 * 60_000));
    expect(reason(() => verifyWebhook(payload, old, secret))).toBe('stale_timestamp');
    const future = signed(payload, new Date(Date.now() + 6 * 60_000));
    expect(reason(() => verifyWebhook(payload, future, secret))).toBe('stale_timestamp');
    // Inside the window it passes.
    expect(reason(() => verifyWebhook(payload, signed(payload, new Date(Date.now() - 4 * 60_000)), secret))).toBe('accepted');
  });

  it('rejects missing headers and a malformed timestamp', () => {
    const headers = signed(payload);
    const { 'webhook-signature': _, ...noSig } = headers;
    expect(reason(() => verifyWebhook(payload, noSig, secret))).toBe('missing_headers');
    expect(reason(() => verifyWebhook(payload, { ...headers, 'webhook-timestamp': 'yesterday' }, secret))).toBe('bad_timestamp');
  });
});

import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { newWebhookSecret, secretKey, sign, webhookHeaders } from './sign.js';

describe('Standard Webhooks signatures', () => {
  const body = JSON.stringify({ code: 200, message: 'success', data: { taskId: 'x', state: 'success' } });
  const ts = Math.floor(Date.now() / 1000);

  it('verify with the standardwebhooks library', () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(secretKey(secret)).toHaveLength(24);
    const headers = webhookHeaders([secret], 'msg_1', ts, body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    // The library's own signer agrees byte for byte.
    expect(headers['webhook-signature']).toBe(new Webhook(secret).sign('msg_1', new Date(ts * 1000), body));
  });

  it('fail verification when the body, id or timestamp changes, or with another secret', () => {
    const secret = newWebhookSecret();
    const headers = webhookHeaders([secret], 'msg_1', ts, body);
    expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow();
    expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'msg_2' })).toThrow();
    expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-timestamp': String(ts + 1) })).toThrow();
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow();
  });

  it('carry both signatures during a rotation, each verifiable on its own', () => {
    const [current, previous] = [newWebhookSecret(), newWebhookSecret()];
    const headers = webhookHeaders([current, previous], 'msg_1', ts, body);
    expect(headers['webhook-signature']!.split(' ')).toEqual([sign(current, 'msg_1', ts, body), sign(previous, 'msg_1', ts, body)]);
    expect(() => new Webhook(current).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(previous).verify(body, headers)).not.toThrow();
  });
});

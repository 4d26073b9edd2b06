import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../src/db/accounts-repo.js';
import { startTestService, type TestService } from './support/service.js';

/** The operator's API under /admin/v1 over real HTTP: every route, its refusals and its guard. */
let t: TestService;
let admin: string;
beforeAll(async () => {
  t = await startTestService({}, { workers: false });
  admin = t.service.firstAdminToken!;
});
afterAll(() => t?.close());

const as = (token: string | null) => (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  t.api(method, `/admin/v1${path}`, { key: token, ...(body === undefined ? {} : { body }), ...(headers ? { headers } : {}) });
const adm = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => as(admin)(method, path, body, headers);

/** Expects a 400 naming `field`, in the one envelope. */
async function refused(res: Promise<{ status: number; body: any }>, status: number, field: string) {
  const r = await res;
  expect({ status: r.status, field: r.body?.data?.field }, JSON.stringify(r.body)).toEqual({ status, field });
  expect(r.body.code).toBe(status);
  expect(typeof r.body.data.error).toBe('string');
  if (status === 400) expect(r.body.data.error).toContain(field);
  return r.body;
}

describe('the admin guard', () => {
  const routes: Array<[string, string, unknown?]> = [
    ['GET', '/accounts'],
    ['POST', '/accounts', { name: 'guarded' }],
    ['GET', '/accounts/default'],
    ['POST', '/accounts/default/credit', { usd: 1 }],
    ['GET', '/accounts/default/ledger'],
    ['POST', '/keys', { account: 'default' }],
    ['GET', '/keys?account=default'],
    ['PATCH', '/keys/key_x', { label: 'x' }],
    ['POST', '/keys/key_x/revoke'],
    ['GET', '/engines'],
  ];

  it.each(routes)('%s %s answers 401 without the admin token, with a wrong one, and with an API key', async (method, path, body) => {
    for (const token of [null, `lsa_${'A'.repeat(43)}`, 'not-a-token', t.key]) {
      const r = await as(token)(method, path, body);
      expect({ token, status: r.status }).toEqual({ token, status: 401 });
      expect(r.body).toMatchObject({ code: 401, message: 'Invalid or missing API key' });
      expect(r.body.data.error).toContain('admin token');
    }
    // Nothing was done by the refused requests.
    expect((await adm('GET', '/accounts/guarded')).status).toBe(404);
  });

  it('an admin token is not an API key', async () => {
    expect((await t.api('GET', '/api/v1/apikeys/current-balance', { key: admin })).status).toBe(401);
  });
});

describe('accounts', () => {
  it('creates, lists and shows an account with its balances', async () => {
    const created = await adm('POST', '/accounts', { name: 'acme', creditUsd: 12.5 });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    expect(created.body).toMatchObject({
      code: 200,
      message: 'success',
      data: { name: 'acme', availableUsd: 12.5, creditedUsd: 12.5, heldUsd: 0, capturedUsd: 0 },
    });
    expect(created.body.data.id).toMatch(/^acc_/);

    const list = await adm('GET', '/accounts');
    expect(list.status).toBe(200);
    expect(list.body.data.accounts.map((a: any) => a.name)).toEqual(expect.arrayContaining(['default', 'acme']));

    const shown = await adm('GET', '/accounts/acme');
    expect(shown.body.data).toEqual(created.body.data);
    expect((await adm('POST', '/accounts', { name: 'zero' })).body.data.availableUsd).toBe(0);
  });

  it('refuses a taken name with 409 and bad input with 400 naming the field, without coercion', async () => {
    await refused(adm('POST', '/accounts', { name: 'acme' }), 409, 'name');
    await refused(adm('POST', '/accounts', { name: 'no spaces' }), 400, 'name');
    await refused(adm('POST', '/accounts', { name: 7 }), 400, 'name');
    await refused(adm('POST', '/accounts', {}), 400, 'name');
    await refused(adm('POST', '/accounts', { name: 'x'.repeat(65) }), 400, 'name');
    await refused(adm('POST', '/accounts', { name: 'coerced', creditUsd: '5' }), 400, 'creditUsd');
    await refused(adm('POST', '/accounts', { name: 'negative', creditUsd: -1 }), 400, 'creditUsd');
    await refused(adm('POST', '/accounts', { name: 'tiny', creditUsd: 0.0000001 }), 400, 'creditUsd');
    await refused(adm('POST', '/accounts', { name: 'typo', credit_usd: 5 }), 400, 'credit_usd');
    await refused(adm('POST', '/accounts', ['acme']), 400, 'body');
    await refused(adm('POST', '/accounts', undefined), 400, 'Content-Type');
    await refused(t.api('POST', '/admin/v1/accounts', { key: admin, rawBody: '{"name":', headers: { 'content-type': 'application/json' } }), 400, 'body');
    await refused(
      t.api('POST', '/admin/v1/accounts', { key: admin, rawBody: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      400,
      'Content-Type',
    );
    for (const name of ['coerced', 'negative', 'tiny', 'typo']) expect((await adm('GET', `/accounts/${name}`)).status).toBe(404);
  });

  it('answers 404 for an unknown account', async () => {
    await refused(adm('GET', '/accounts/nobody'), 404, 'name');
    await refused(adm('POST', '/accounts/nobody/credit', { usd: 1 }), 404, 'name');
    await refused(adm('GET', '/accounts/nobody/ledger'), 404, 'name');
  });

  it('credits an account (a ledger entry) and refuses amounts that are not positive numbers', async () => {
    const r = await adm('POST', '/accounts/acme/credit', { usd: 2.5, note: 'top up' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.data).toMatchObject({ creditedUsd: 2.5, account: { name: 'acme', availableUsd: 15 } });
    await refused(adm('POST', '/accounts/acme/credit', { usd: 0 }), 400, 'usd');
    await refused(adm('POST', '/accounts/acme/credit', { usd: '2' }), 400, 'usd');
    await refused(adm('POST', '/accounts/acme/credit', {}), 400, 'usd');
    await refused(adm('POST', '/accounts/acme/credit', { usd: 1, note: 5 }), 400, 'note');
    await refused(adm('POST', '/accounts/acme/credit', { usd: 1e21 }), 400, 'usd');
    expect((await adm('GET', '/accounts/acme')).body.data.availableUsd).toBe(15);
  });

  it('pages the ledger newest first with limit and cursor', async () => {
    const first = await adm('GET', '/accounts/acme/ledger?limit=1');
    expect(first.status).toBe(200);
    expect(first.body.data).toMatchObject({ account: 'acme', entries: [{ kind: 'credit', amount: 2.5, note: 'top up', taskId: null }] });
    const next = await adm('GET', `/accounts/acme/ledger?limit=1&cursor=${first.body.data.nextCursor}`);
    expect(next.body.data.entries).toMatchObject([{ kind: 'credit', amount: 12.5, note: 'initial credit' }]);
    const all = await adm('GET', '/accounts/acme/ledger');
    expect(all.body.data.entries).toHaveLength(2);
    expect(all.body.data.nextCursor).toBeNull();
    for (const bad of ['0x10', '0', '1e1', '1001', '%205', 'ten']) await refused(adm('GET', `/accounts/acme/ledger?limit=${bad}`), 400, 'limit');
    await refused(adm('GET', '/accounts/acme/ledger?limit=1&limit=2'), 400, 'limit');
    await refused(adm('GET', '/accounts/acme/ledger?cursor=abc'), 400, 'cursor');
  });
});

describe('keys', () => {
  let keyId = '';
  let key = '';

  it('creates a key that works at once; its text is shown only in that answer', async () => {
    const r = await adm('POST', '/keys', { account: 'acme', label: 'ci', models: ['veo-3-1'], submitRpm: 5, budgetUsd: 2, budgetPeriod: 'month' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.data).toMatchObject({
      account: 'acme',
      label: 'ci',
      state: 'active',
      models: ['veo-3-1'],
      strategies: null,
      submitRpm: 5,
      statusRpm: null,
      budgetUsd: 2,
      budgetPeriod: 'month',
      budgetSpentUsd: 0,
    });
    key = r.body.data.key;
    keyId = r.body.data.id;
    expect(key).toMatch(/^lsk_[A-Za-z0-9_-]{43}$/);
    expect(keyId).toMatch(/^key_/);

    const balance = await t.api('GET', '/api/v1/apikeys/current-balance', { key });
    expect(balance.status).toBe(200);
    expect(balance.body.data).toBe(15);

    const list = await adm('GET', '/keys?account=acme');
    expect(list.status).toBe(200);
    expect(list.body.data.keys.map((k: any) => k.id)).toEqual([keyId]);
    const text = JSON.stringify(list.body);
    expect(text).not.toContain(key);
    expect(text).not.toContain(hashApiKey(key));
    expect(list.body.data.keys[0]).not.toHaveProperty('key');
  });

  it('refuses bad settings with 400 naming the field and unknown accounts with 404', async () => {
    await refused(adm('POST', '/keys', {}), 400, 'account');
    await refused(adm('POST', '/keys', { account: 5 }), 400, 'account');
    await refused(adm('POST', '/keys', { account: 'nobody' }), 404, 'account');
    const bad: Array<[string, unknown]> = [
      ['models', ['veo-9']],
      ['models', []],
      ['models', 'veo-3-1'],
      ['strategies', ['cheapest']],
      ['defaultStrategy', 'fastest'],
      ['submitRpm', -1],
      ['submitRpm', '5'],
      ['statusRpm', 1.5],
      ['maxUnfinished', 1e12],
      ['budgetUsd', '5'],
      ['budgetUsd', -5],
      ['budgetUsd', 0.1234567],
      ['budgetPeriod', 'week'],
      ['label', 7],
      ['budget_usd', 5],
    ];
    for (const [field, value] of bad) await refused(adm('POST', '/keys', { account: 'acme', [field]: value }), 400, field);
    expect((await adm('GET', '/keys?account=acme')).body.data.keys).toHaveLength(1);
    await refused(adm('GET', '/keys'), 400, 'account');
    await refused(adm('GET', '/keys?account='), 400, 'account');
    await refused(adm('GET', '/keys?account=nobody'), 404, 'account');
  });

  it('updates only the fields given', async () => {
    const r = await adm('PATCH', `/keys/${keyId}`, { label: 'renamed', models: null, budgetUsd: 3 });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.data).toMatchObject({ id: keyId, label: 'renamed', models: null, submitRpm: 5, budgetUsd: 3, budgetPeriod: 'month' });
    expect(r.body.data).not.toHaveProperty('key');
    await refused(adm('PATCH', `/keys/${keyId}`, {}), 400, 'body');
    await refused(adm('PATCH', `/keys/${keyId}`, { submitRpm: 'default' }), 400, 'submitRpm');
    await refused(adm('PATCH', `/keys/${keyId}`, { account: 'default' }), 400, 'account');
    await refused(adm('PATCH', `/keys/${keyId}`, undefined), 400, 'Content-Type');
    await refused(adm('PATCH', '/keys/key_nope', { label: 'x' }), 404, 'keyId');
    expect((await adm('GET', '/keys?account=acme')).body.data.keys[0]).toMatchObject({ label: 'renamed', submitRpm: 5 });
  });

  it('revokes a key: requests with it are refused within 1 s; a second revoke is a 409', async () => {
    expect((await t.api('GET', '/api/v1/apikeys/current-balance', { key })).status).toBe(200); // cached now
    const r = await adm('POST', `/keys/${keyId}/revoke`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.data).toMatchObject({ id: keyId, state: 'revoked' });
    const revokedAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < 3000) {
      status = (await t.api('GET', '/api/v1/apikeys/current-balance', { key })).status;
      if (status === 200) await new Promise((res) => setTimeout(res, 25));
    }
    expect(status).toBe(401);
    expect(Date.now() - revokedAt).toBeLessThanOrEqual(1100);
    await refused(adm('POST', `/keys/${keyId}/revoke`), 409, 'keyId');
    await refused(adm('POST', '/keys/key_nope/revoke'), 404, 'keyId');
    expect((await adm('GET', '/keys?account=acme')).body.data.keys[0].state).toBe('revoked');
  });
});

describe('engines', () => {
  it('shows the engine health table of `longshot engines`', async () => {
    const r = await adm('GET', '/engines');
    expect(r.status).toBe(200);
    expect(r.body.data.engines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ engine: 'local', type: 'local', available: true, breakerOpenUntil: null, lastHour: expect.objectContaining({ runs: 0 }) }),
      ]),
    );
    expect(r.body.data.engines.find((e: any) => e.engine === 'local').routes).toEqual(expect.arrayContaining(['auto']));
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.js';

/** GET /api/v1/account/ledger?limit=: plain decimal digits only, else a 400 naming the field. */
let t: TestService;
beforeAll(async () => {
  t = await startTestService({}, { workers: false });
});
afterAll(() => t?.close());

describe('ledger route limit', () => {
  it('takes 1 to 200 written in decimal digits', async () => {
    for (const limit of ['1', '007', '200']) {
      const res = await t.api('GET', `/api/v1/account/ledger?limit=${limit}`);
      expect({ limit, status: res.status }).toEqual({ limit, status: 200 });
      expect(res.body.data.entries.length).toBeGreaterThanOrEqual(1);
    }
  });

  it.each(['0x10', '%205', '5%20', '1e1', '%2B3', '2.0', '-1', '0', '201', '', 'ten'])('refuses limit=%s with a 400 naming the field', async (limit) => {
    const res = await t.api('GET', `/api/v1/account/ledger?limit=${limit}`);
    expect(res.status).toBe(400);
    expect(res.body.data).toMatchObject({ field: 'limit' });
    expect(res.body.data.error).toMatch(/limit/);
  });

  it('refuses a repeated limit', async () => {
    const res = await t.api('GET', '/api/v1/account/ledger?limit=5&limit=6');
    expect(res.status).toBe(400);
    expect(res.body.data).toMatchObject({ field: 'limit' });
  });
});

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from '../src/cli/cli-error.js';
import { runWebhooks } from '../src/cli/webhooks.js';
import { findAccountByName } from '../src/db/accounts-repo.js';
import { claimNextTask } from '../src/db/claim-task.js';
import { getWebhookSecrets } from '../src/db/webhook-secrets-repo.js';
import { settleFailure } from '../src/services/settle-task.js';
import { startTestService, type TestService } from './support/service.js';

/** `longshot webhooks …` on the data directory of a running server (no workers, no sender). */
let t: TestService;
beforeAll(async () => {
  t = await startTestService({ LONGSHOT_ALLOW_PRIVATE_CALLBACKS: 'true' }, { workers: false });
});
afterAll(() => t?.close());

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  // The CLI opens the same database as the service (a PostgreSQL schema under LONGSHOT_TEST_DATABASE=postgres).
  const database = t.config.databaseUrl ? { DATABASE_URL: t.config.databaseUrl } : {};
  const code = await runWebhooks(args, {
    env: { LONGSHOT_DATA_DIR: t.dataDir, LONGSHOT_LOG_LEVEL: 'error', ...database },
    out: (s) => (out += s),
    err: (s) => (err += s),
  });
  return { code, out, err };
}

describe('longshot webhooks', () => {
  it('prints the secret, rotates with an overlap, and ends the overlap', async () => {
    const before = (await findAccountByName(t.service.deps.db, 'default'))!.webhook_secret;
    expect((await cli('secret', '--account', 'default')).out).toBe(`${before}\n`);

    const rotated = await cli('rotate', '--account', 'default', '--overlap', '1h');
    const next = rotated.out.trim();
    expect(next).toMatch(/^whsec_/);
    expect(next).not.toBe(before);
    expect(rotated.err).toMatch(/both signatures until/);
    const shown = await cli('secret', '--account', 'default');
    expect(shown.out).toBe(`${next}\n`);
    expect(shown.err).toMatch(/previous secret also signs until/);
    const accountId = (await findAccountByName(t.service.deps.db, 'default'))!.id;
    expect(await getWebhookSecrets(t.service.deps.db, accountId, Date.now())).toMatchObject({ current: next, previous: before });

    expect((await cli('rotate', '--account', 'default', '--expire-old')).err).toMatch(/no longer signs/);
    expect(await getWebhookSecrets(t.service.deps.db, accountId, Date.now())).toMatchObject({ current: next, previous: null });
  });

  it('refuses bad arguments with a one-line error', async () => {
    await expect(cli('secret', '--account', 'nobody')).rejects.toThrow(CliError);
    await expect(cli('rotate', '--account', 'default', '--overlap', 'soon')).rejects.toThrow(/--overlap soon is not a duration/);
    await expect(cli('deliveries')).rejects.toThrow(/one TASK_ID/);
    await expect(cli('redeliver', '0'.repeat(32))).rejects.toThrow(/no task/);
    await expect(cli('frobnicate')).rejects.toThrow(/unknown command/);
  });

  it("lists a task's deliveries and queues a redelivery", async () => {
    const res = await t.api('POST', '/api/v1/generateTask/veo-3-1', {
      body: { request_type: 'callback', callback_url: 'http://127.0.0.1:9/hook', input: { prompt: 'x', mode: 'fast' } },
    });
    const taskId = res.body.data.taskId;
    expect((await cli('deliveries', taskId)).out).toMatch(/has no webhook deliveries/);
    await expect(cli('redeliver', taskId)).rejects.toThrow(/only a finished task/);

    // Finish it the way a worker does (claim with a lease, settle): the outbox row appears.
    const token = randomUUID();
    const task = await claimNextTask(t.service.deps.db, Date.now(), 30_000, token);
    expect(task?.id).toBe(taskId);
    expect(await settleFailure(t.service.deps, task!, token, 'CONTENT_VIOLATION', 'refused')).toBe(true);
    expect((await cli('deliveries', taskId)).out).toMatch(new RegExp(`^msg_${taskId}\\tpending\\tsettle\\thttp://127\\.0\\.0\\.1:9/hook`));

    const again = await cli('redeliver', taskId);
    expect(again.out).toMatch(/^msg_[0-9a-f]{32}\n$/);
    // One pending redelivery per task at a time.
    await expect(cli('redeliver', taskId)).rejects.toThrow(/still pending/);
    const listed = JSON.parse((await cli('deliveries', taskId, '--json')).out);
    expect(listed.map((d: any) => [d.webhookId, d.trigger, d.state])).toEqual([
      [`msg_${taskId}`, 'settle', 'pending'],
      [again.out.trim(), 'redeliver', 'pending'],
    ]);
  });
});

import { readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from './support/chromium.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';

/**
 * The operator console at /console (docs/console.md): its static route, and the page driven in
 * headless Chromium against a real service: sign in with the admin token, create and credit an
 * account, create a key (shown once), see a task the key submitted, its page, the usage chart,
 * the engine table, revoke the key, sign out.
 */
const docs = fileURLToPath(new URL('../docs/', import.meta.url));
const consoleDir = fileURLToPath(new URL('../web/console/', import.meta.url));
const shot = (name: string) => `${docs}console-${name}.png`;

let t: TestService;
let admin: string;
beforeAll(async () => {
  t = await startTestService();
  admin = t.service.firstAdminToken!;
});
afterAll(() => t?.close());

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

// Bodies are read to the end so no keep-alive connection is left busy (see playground.test.ts).
describe('console route', () => {
  it('serves the page at /console with a strict CSP, revalidation and no other origin', async () => {
    const res = await fetch(`${t.url}/console`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const html = await res.text();
    expect(html).toContain('<title>Longshot console</title>');
    // Its own files only: no CDN, no external font, no inline script.
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
    expect([...html.matchAll(/<script[^>]*src="([^"]+)"/g)].map((m) => m[1])).toEqual(['/console/app.js']);
    const again = await fetch(`${t.url}/console`, { headers: { 'if-none-match': res.headers.get('etag')! } });
    expect(again.status).toBe(304);
    await again.arrayBuffer();
  });

  it('serves every file of web/console with its content type, and the scripts import only each other and web/common', async () => {
    const files = readdirSync(consoleDir);
    expect(files).toEqual(expect.arrayContaining(['index.html', 'app.js', 'style.css']));
    for (const file of files) {
      const res = await fetch(`${t.url}/console/${file}`);
      expect({ file, status: res.status }).toEqual({ file, status: 200 });
      expect(res.headers.get('content-type')).toBe(TYPES[file.split('.').pop()!]);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const text = await res.text();
      if (file.endsWith('.js')) {
        for (const [, spec] of text.matchAll(/^import[^'"]*['"]([^'"]+)['"]/gm))
          expect(spec, `${file} imports ${spec}`).toMatch(/^(?:\.|\/web\/common)\/[a-z-]+\.js$/);
        expect(text, file).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
      }
    }
  });

  it.each([
    '/console/..%2Fapp.js',
    '/console/..%2F..%2Fpackage.json',
    '/console/%2e%2e%2findex.html',
    '/console/nope.js',
    '/console/.hidden',
    '/console/app.js%00.css',
  ])('refuses %s', async (path) => {
    const res = await fetch(t.url + path);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain('"devDependencies"');
  });
});

/** USD the way the console shows an API amount: never rounded, at least two decimals. */
function usdText(n: number): string {
  const [whole, frac = ''] = String(Math.abs(n)).split('.');
  return `${n < 0 ? '-' : ''}$${whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${frac.padEnd(2, '0')}`;
}

/** Collects page errors and console errors, and every URL the page asks for. */
function watch(page: Page) {
  const problems: string[] = [];
  const requests: Array<{ url: string; type: string }> = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  page.on('request', (req) => requests.push({ url: req.url(), type: req.resourceType() }));
  return { problems, requests };
}

const ready = (page: Page, section: string) => page.waitForSelector(`#view[data-ready="${section}"]`, { timeout: 30_000 });

describe.skipIf(!hasChromium())('console in a browser', () => {
  it('says so when the token is wrong, and keeps nothing', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const { problems } = watch(page);
      await page.goto(`${t.url}/console`);
      await page.fill('#admin-token', 'lsa_not-the-right-token-at-all');
      await page.click('#signin-submit');
      const message = await page.waitForSelector('#signin-error .error');
      expect(await message.textContent()).toContain('This admin token was refused');
      expect(await message.textContent()).toContain('admin token');
      // An API key is not an admin token either.
      await page.fill('#admin-token', t.key);
      await page.click('#signin-submit');
      await page.waitForFunction(() => document.querySelector('#signin-error .error')?.textContent?.includes('refused'));
      expect(await page.isVisible('#shell')).toBe(false);
      expect(await page.evaluate(() => localStorage.getItem('longshot.adminToken'))).toBeNull();
      // The browser's own note of each refused request is the only console error.
      expect(problems.filter((p) => !p.includes('status of 401'))).toEqual([]);
      expect(problems.length).toBe(2);
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('runs an account from creation to a revoked key, through a task, its page, usage and engines', async () => {
    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.url });
      const page = await context.newPage();
      const { problems, requests } = watch(page);
      await mkdir(docs, { recursive: true });

      // Sign in; the token is kept in this origin's storage and survives a reload.
      await page.goto(`${t.url}/console`);
      await page.fill('#admin-token', admin);
      await page.click('#signin-submit');
      await ready(page, 'accounts');
      expect(await page.evaluate(() => localStorage.getItem('longshot.adminToken'))).toBe(admin);
      await page.reload();
      await ready(page, 'accounts');
      await page.waitForSelector('table[aria-label="Accounts"] a:text-is("default")');

      // Create an account, then credit it from the list.
      await page.fill('#account-name', 'acme');
      await page.click('#create-account');
      await page.waitForSelector('.flash:text("Account acme created.")');
      await page.click('button[data-credit="acme"]');
      await page.fill('#credit-usd', '5');
      await page.fill('#credit-note', 'first top-up <b>bold</b>');
      await page.click('#credit-dialog-submit');
      await page.waitForSelector('.flash:text("Credited $5.00 to acme.")');
      const acmeRow = page.locator('table[aria-label="Accounts"] tr', { has: page.locator('a:text-is("acme")') });
      expect(await acmeRow.locator('td').allTextContents()).toEqual(expect.arrayContaining(['acme', '$5.00', '$0.00']));
      // A refusal is shown in the dialog, naming the field, and the dialog stays open.
      await page.click('button[data-credit="acme"]');
      await page.fill('#credit-usd', '0');
      await page.click('#credit-dialog-submit');
      expect(await (await page.waitForSelector('#credit-dialog .error')).textContent()).toContain('usd');
      await page.click('#credit-dialog button:text("Cancel")');
      await page.waitForSelector('#credit-dialog', { state: 'detached' });
      await page.screenshot({ path: shot('accounts'), fullPage: true });

      // The account's page: balances, no keys yet, the credit in the ledger (its note as text).
      await page.click('table[aria-label="Accounts"] a:text-is("acme")');
      await ready(page, 'accounts');
      await page.waitForSelector('.stat[data-stat="credited"] .stat-value:text-is("$5.00")');
      await page.waitForSelector('.empty-title:text("No keys yet.")');
      const ledgerNote = page.locator('table[aria-label="Ledger"] td', { hasText: 'first top-up' });
      expect(await ledgerNote.textContent()).toBe('first top-up <b>bold</b>');
      expect(await page.locator('table[aria-label="Ledger"] b').count()).toBe(0);

      // A key with limits and a budget; its text is shown once, copied, and gone when closed.
      await page.click('#new-key');
      await page.fill('#key-label', 'ci <i>runner</i>');
      await page.uncheck('#key-dialog input[name="models"][value="veo-3-1-extend"]');
      await page.fill('#key-submitRpm', '30');
      await page.fill('#key-budgetUsd', '2');
      await page.selectOption('#key-budgetPeriod', 'month');
      await page.click('#key-dialog-submit');
      const secret = await (await page.waitForSelector('#secret-value')).inputValue();
      expect(secret).toMatch(/^lsk_/);
      expect(await page.textContent('#secret-dialog .warning')).toContain('only time this key is shown');
      await page.click('#copy-secret');
      await page.waitForSelector('#copy-secret:text("Copied")');
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
      await page.click('#secret-done');
      await page.waitForSelector('#secret-dialog', { state: 'detached' });
      expect(await page.evaluate((k) => document.documentElement.outerHTML.includes(k), secret)).toBe(false);
      const keys = (await t.api('GET', '/admin/v1/keys?account=acme', { key: admin })).body.data.keys;
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatchObject({ label: 'ci <i>runner</i>', models: ['veo-3-1'], submitRpm: 30, budgetUsd: 2, budgetPeriod: 'month' });
      const keyId: string = keys[0].id;
      const keyRow = page.locator('table[aria-label="API keys"] tbody tr');
      await keyRow.locator('.badge:text("active")').waitFor();
      const keyCells = await keyRow.locator('td').allTextContents();
      expect(keyCells).toEqual(expect.arrayContaining(['ci <i>runner</i>', 'veo-3-1', '30 / default', '$0.00 of $2.00 / month']));
      expect(await keyRow.locator('i').count()).toBe(0);

      // The key works: two tasks over the real API, rendered by the local engine with ffmpeg.
      const prompt = 'a <img src=x> lighthouse at dusk & "waves"';
      const submit = async (text: string) => {
        const res = await t.api('POST', '/api/v1/generateTask/veo-3-1', {
          key: secret,
          body: { request_type: 'async', input: { prompt: text, mode: 'fast' } },
        });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        return res.body.data.taskId as string;
      };
      const taskId = await submit(prompt);
      const laterId = await submit('a second shot of the same coast');
      // An unfinished task's page follows it to the end by itself.
      await page.goto(`${t.url}/console#/tasks/${laterId}`);
      await ready(page, 'tasks');
      expect(['pending', 'processing']).toContain(await page.textContent('#task-state .badge'));
      await page.waitForSelector('#task-state .badge:text-is("success")', { timeout: 150_000 });
      await page.waitForSelector('#task-video');
      for (const id of [taskId, laterId]) expect((await waitForTask(t, 'veo-3-1', id, secret, 150_000)).state).toBe('success');

      // Tasks: filtered to the account, both are there, newest first, with their badges.
      await page.click('.nav a[data-section="tasks"]');
      await ready(page, 'tasks');
      await page.selectOption('#filter-account', 'acme');
      await page.selectOption('#filter-state', 'success');
      await page.click('#apply-filters');
      await page.waitForFunction(() => location.hash === '#/tasks?account=acme&state=success');
      await ready(page, 'tasks');
      const taskRows = page.locator('table[aria-label="Tasks"] tbody tr');
      expect(await taskRows.locator('a code.id').evaluateAll((codes) => codes.map((c) => c.getAttribute('title')))).toEqual([laterId, taskId]);
      const taskRow = taskRows.nth(1);
      expect(await taskRow.locator('.badge').textContent()).toBe('success');
      expect(await taskRow.locator('.badge').getAttribute('data-tone')).toBe('ok');
      expect(await taskRow.locator('td').allTextContents()).toEqual(expect.arrayContaining(['veo-3-1', 'acme', 'local']));
      expect(await page.isVisible('#load-more')).toBe(false);
      await page.screenshot({ path: shot('tasks'), fullPage: true });
      // Cursor pages: one row a page, then "Load more" appends the next until there is none.
      await page.goto(`${t.url}/console#/tasks?account=acme&limit=1`);
      await ready(page, 'tasks');
      expect(await taskRows.count()).toBe(1);
      await page.click('#load-more');
      await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Tasks"] tbody tr').length === 2);
      await page.waitForSelector('#load-more', { state: 'hidden' });
      // A filter that matches nothing says so.
      await page.goto(`${t.url}/console#/tasks?account=acme&state=success`);
      await ready(page, 'tasks');
      await page.selectOption('#filter-state', 'failed');
      await page.click('#apply-filters');
      await page.waitForSelector('.empty-title:text("No tasks match these filters.")');
      await page.goBack();
      await ready(page, 'tasks');
      await page.click(`table[aria-label="Tasks"] code.id[title="${taskId}"]`);
      await ready(page, 'tasks');
      expect(await page.evaluate(() => location.hash)).toBe(`#/tasks/${taskId}`);

      // The task page: its prompt as text, state, engine, ledger, and the video that plays.
      expect(await page.textContent('#task-prompt')).toBe(prompt);
      expect(await page.locator('#task-prompt img').count()).toBe(0);
      expect(await page.textContent('#task-state .badge')).toBe('success');
      const facts = Object.fromEntries(
        await page.$$eval('.facts > div', (divs) => divs.map((d) => [d.querySelector('dt')!.textContent, d.querySelector('dd')!.textContent])),
      );
      expect(facts).toMatchObject({ Model: 'veo-3-1', Mode: 'fast', Engine: 'local', Account: 'acme', Key: keyId, Attempts: '1' });
      const detail = (await t.api('GET', `/admin/v1/tasks/${taskId}`, { key: admin })).body.data;
      expect(facts.Price).toBe(usdText(detail.priceUsd));
      const kinds = await page.$$eval('table[aria-label="Ledger"] .badge', (b) => b.map((x) => x.textContent));
      expect(kinds.sort()).toEqual(['capture', 'hold']);
      await page.waitForSelector('.empty-title:text("No webhooks.")');
      const readyState = await page.evaluate(async () => {
        const v = document.querySelector<HTMLVideoElement>('#task-video')!;
        v.muted = true;
        await v.play();
        await new Promise<void>((resolve) => (v.readyState >= 2 ? resolve() : v.addEventListener('canplay', () => resolve(), { once: true })));
        v.pause();
        return v.readyState;
      });
      expect(readyState).toBeGreaterThanOrEqual(2);
      await page.waitForFunction(() => {
        const img = document.querySelector<HTMLImageElement>('#task-poster');
        return img?.complete && img.naturalWidth > 0;
      });
      // Headless Chromium draws a stale loading spinner in the native controls: hide them for the shot.
      await page.evaluate(() => {
        document.querySelector<HTMLVideoElement>('#task-video')!.controls = false;
      });
      await page.screenshot({ path: shot('task'), fullPage: true });

      // Usage: today's bar in both charts, by model, then by engine, and the totals under them.
      await page.click('.nav a[data-section="usage"]');
      await ready(page, 'usage');
      const today = new Date().toISOString().slice(0, 10);
      await page.waitForSelector(`#chart-tasks rect.bar[data-day="${today}"][data-series="veo-3-1"]`);
      expect(await page.locator(`#chart-spend rect.bar[data-day="${today}"]`).count()).toBe(1);
      expect(await page.textContent(`#chart-tasks rect.bar[data-day="${today}"] title`)).toBe(`${today} · veo-3-1: 2 tasks`);
      const spent = usdText((2 * Math.round(detail.priceUsd * 1e6)) / 1e6);
      expect(await page.textContent(`#chart-spend rect.bar[data-day="${today}"] title`)).toBe(`${today} · veo-3-1: ${spent}`);
      expect(await page.locator('#chart-tasks text.axis-label').allTextContents()).toEqual(['Day (UTC)', 'tasks']);
      await page.click('label[for="group-engine"]');
      await page.waitForFunction(() => location.hash.includes('group=engine'));
      await ready(page, 'usage');
      await page.waitForSelector(`#chart-tasks rect.bar[data-day="${today}"][data-series="local"]`);
      expect(await page.locator('.legend li').allTextContents()).toEqual(['local']);
      const totals = await page.$$eval('table[aria-label="Totals"] tbody tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
      );
      expect(totals).toEqual([
        ['local', '2', '2', '0', '16', spent],
        ['All', '2', '2', '0', '16', spent],
      ]);
      await page.screenshot({ path: shot('usage'), fullPage: true });

      // Engines: the local engine's standing as a badge.
      await page.click('.nav a[data-section="engines"]');
      await ready(page, 'engines');
      const engineRow = page.locator('table[aria-label="Engines"] tbody tr', { hasText: 'local' });
      expect(await engineRow.locator('.badge').textContent()).toBe('available');
      expect(await engineRow.locator('.badge').getAttribute('data-tone')).toBe('ok');
      await page.screenshot({ path: shot('engines'), fullPage: true });

      // Edit the key's limits: the form shows its settings, the save changes only what changed.
      await page.goto(`${t.url}/console#/accounts/acme`);
      await ready(page, 'accounts');
      await page.click('table[aria-label="API keys"] button:text("Edit")');
      expect(await page.inputValue('#key-submitRpm')).toBe('30');
      expect(await page.isChecked('#key-dialog input[name="models"][value="veo-3-1-extend"]')).toBe(false);
      await page.fill('#key-submitRpm', '60');
      await page.click('#key-dialog-submit');
      await page.waitForSelector('.flash:text("Key updated.")');
      await page.waitForSelector('table[aria-label="API keys"] td:text-is("60 / default")');
      expect((await t.api('GET', '/admin/v1/keys?account=acme', { key: admin })).body.data.keys[0]).toMatchObject({
        submitRpm: 60,
        models: ['veo-3-1'],
        budgetUsd: 2,
        budgetPeriod: 'month',
        label: 'ci <i>runner</i>',
      });
      // The account after two tasks: what they captured, from the API's own figures.
      const acme = (await t.api('GET', '/admin/v1/accounts/acme', { key: admin })).body.data;
      expect(await page.textContent('.stat[data-stat="available"] .stat-value')).toBe(usdText(acme.availableUsd));
      expect(await page.textContent('.stat[data-stat="captured"] .stat-value')).toBe(spent);
      expect(await page.locator('table[aria-label="Ledger"] tbody tr').count()).toBe(5);
      await page.screenshot({ path: shot('account'), fullPage: true });

      // Revoke, after a confirmation that can be declined.
      await page.click(`button[data-revoke="${keyId}"]`);
      await page.click('#revoke-dialog button:text("Cancel")');
      await page.waitForSelector('#revoke-dialog', { state: 'detached' });
      expect((await t.api('GET', '/admin/v1/keys?account=acme', { key: admin })).body.data.keys[0].state).toBe('active');
      await page.click(`button[data-revoke="${keyId}"]`);
      expect(await page.textContent('#revoke-dialog')).toContain(keyId);
      await page.click('#revoke-dialog-submit');
      await page.waitForSelector('table[aria-label="API keys"] .badge:text("revoked")');
      expect(await page.locator(`button[data-revoke="${keyId}"]`).count()).toBe(0);
      // The key is refused within the auth cache's second.
      let status = 0;
      for (let i = 0; i < 40 && status !== 401; i++) {
        status = (await t.api('GET', '/api/v1/apikeys/current-balance', { key: secret })).status;
        if (status !== 401) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(401);

      // Sign out forgets the token.
      await page.click('#signout');
      await page.waitForSelector('#signin:not([hidden])');
      expect(await page.evaluate(() => localStorage.getItem('longshot.adminToken'))).toBeNull();
      await page.reload();
      await page.waitForSelector('#signin:not([hidden])');

      // Only this origin, and only the console's own scripts and styles and those it shares with the playground.
      for (const r of requests) expect(r.url.startsWith(`${t.url}/`), r.url).toBe(true);
      const code = requests.filter((r) => r.type === 'script' || r.type === 'stylesheet' || r.type === 'font').map((r) => new URL(r.url).pathname);
      expect(code.length).toBeGreaterThan(0);
      for (const path of code) expect(path).toMatch(/^\/(?:console|web\/common)\/[a-z-]+\.(?:js|css)$/);
      expect(code).toEqual(expect.arrayContaining(['/web/common/base.css', '/web/common/request.js']));
      // Nothing went wrong but the one refusal asked for above (the browser notes its 400).
      expect(problems).toEqual(['console: Failed to load resource: the server responded with a status of 400 (Bad Request)']);
    } finally {
      await browser.close();
    }
    // One render on a busy 2-core machine can take minutes; the waits above bound each step.
  }, 300_000);
});

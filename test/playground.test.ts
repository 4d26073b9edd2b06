import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from './support/chromium.js';
import { startTestService, type TestService } from './support/service.js';

/**
 * The playground at `/`: its static route, and the page itself driven in headless Chromium
 * (paste a key, generate, play, extend, see the timeline).
 */
const screenshot = fileURLToPath(new URL('../docs/playground.png', import.meta.url));

let t: TestService;
beforeAll(async () => {
  t = await startTestService();
});
afterAll(() => t?.close());

// Bodies are read to the end: an unread body keeps a keep-alive connection busy, fetch opens
// another, and a connection that never sends a request holds up the service's close().
describe('playground route', () => {
  it('serves index.html at / with a strict CSP and revalidation', async () => {
    const res = await fetch(`${t.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('content-security-policy')).toContain("connect-src 'self'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await res.text()).toContain('<title>Longshot playground</title>');
    const etag = res.headers.get('etag')!;
    const again = await fetch(`${t.url}/`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    await again.arrayBuffer();
    const head = await fetch(`${t.url}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    await head.arrayBuffer();
  });

  it('serves the files of web/ with their content types', async () => {
    const js = await fetch(`${t.url}/web/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await js.text()).toContain('/api/v1');
    const css = await fetch(`${t.url}/web/style.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    await css.arrayBuffer();
  });

  it('serves web/common, what the playground and the console share, with its content types', async () => {
    const css = await fetch(`${t.url}/web/common/base.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await css.text()).toContain('--accent');
    const js = await fetch(`${t.url}/web/common/request.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await js.text()).toContain('export async function requestEnvelope');
    for (const page of ['/', '/console']) expect(await (await fetch(t.url + page)).text()).toContain('href="/web/common/base.css"');
  });

  it.each([
    '/web/..%2Fpackage.json',
    '/web/%2e%2e%2fpackage.json',
    '/web/..%5Cpackage.json',
    '/web/../package.json',
    '/web/nope.js',
    '/web/.gitignore',
    '/web/',
    '/web/app.js%00.css',
    '/web/common/..%2Fapp.js',
    '/web/common/nope.css',
    '/web/common/',
  ])('refuses %s', async (path) => {
    const res = await fetch(t.url + path);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain('"devDependencies"');
  });
});

describe.skipIf(!hasChromium())('playground in a browser', () => {
  it('generates, plays, extends, branches and shows the timeline as a tree', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      const keyedRequests: string[] = [];
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
      page.on('console', (msg) => {
        if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
      });
      page.on('request', (req) => {
        if (req.headers().authorization) keyedRequests.push(req.url());
      });

      await page.goto(`${t.url}/`);
      await page.fill('#api-key', t.key);
      await page.click('#save-key');
      await page.waitForFunction(() => document.querySelector('#balance')?.textContent === '$10.00');

      await page.fill('#prompt', 'a lighthouse on a cliff at dusk');
      await page.click('#generate');
      await page.waitForSelector('#task-status[data-state="success"]', { timeout: 150_000 });
      // The video element gets the result and decodes it.
      const readyState = await page.evaluate(async () => {
        const v = document.querySelector<HTMLVideoElement>('#video')!;
        v.muted = true;
        await v.play();
        await new Promise<void>((resolve) => (v.readyState >= 2 ? resolve() : v.addEventListener('canplay', () => resolve(), { once: true })));
        return v.readyState;
      });
      expect(readyState).toBeGreaterThanOrEqual(2);

      await page.fill('#extend-prompt', 'the camera rises above the clouds');
      await page.click('#extend');
      await page.waitForFunction(
        () => document.querySelectorAll('#timeline li').length === 2 && document.querySelector('#task-status')?.getAttribute('data-state') === 'success',
        undefined,
        { timeout: 150_000 },
      );
      const entries = await page.$$eval('#timeline li', (lis) =>
        lis.map((li) => ({
          state: li.querySelector('button')!.dataset.state,
          title: li.querySelector('.title')!.textContent,
          pressed: li.querySelector('button')!.getAttribute('aria-pressed'),
        })),
      );
      expect(entries).toEqual([
        { state: 'success', title: '1 · Generate · 8 s', pressed: 'false' },
        { state: 'success', title: '2 · Extend 1 · 15 s', pressed: 'true' },
      ]);
      // Both posters load (the signed posterUrl of each task).
      await page.waitForFunction(
        () => [...document.querySelectorAll<HTMLImageElement>('#timeline img')].filter((img) => img.complete && img.naturalWidth > 0).length === 2,
      );
      await page.waitForFunction(() => document.querySelector('#balance')?.textContent === '$9.60');

      // Branch: extend the generation again. The tree keeps both extensions; the new one opens a
      // second row under the first, in the same column (the same length).
      await page.click('#timeline li:nth-child(1) button');
      await page.fill('#extend-prompt', 'the lighthouse beam sweeps the sea');
      await page.click('#extend');
      await page.waitForFunction(
        () => document.querySelectorAll('#timeline li').length === 3 && document.querySelector('#task-status')?.getAttribute('data-state') === 'success',
        undefined,
        { timeout: 150_000 },
      );
      const tree = () =>
        page.$$eval('#timeline li', (lis) =>
          lis.map((li) => ({
            title: li.querySelector('.title')!.textContent,
            state: li.querySelector('button')!.dataset.state,
            column: li.style.gridColumn,
            row: li.style.gridRow,
            branch: li.dataset.branch === 'true',
            parent: li.dataset.parent,
          })),
        );
      const ids = await page.$$eval('#timeline li', (lis) => lis.map((li) => li.dataset.taskId!));
      const expected = [
        { title: '1 · Generate · 8 s', state: 'success', column: '1', row: '1', branch: false, parent: '' },
        { title: '2 · Extend 1 · 15 s', state: 'success', column: '2', row: '1', branch: false, parent: ids[0] },
        { title: '3 · Extend 1 · 15 s', state: 'success', column: '2', row: '2', branch: true, parent: ids[0] },
      ];
      expect(await tree()).toEqual(expected);
      // Drawn as a tree: the branch sits below the first extension, not after it on one line.
      const boxes = await page.$$eval('#timeline li', (lis) => lis.map((li) => li.getBoundingClientRect().toJSON()));
      expect(boxes[2].left).toBe(boxes[1].left);
      expect(boxes[2].top).toBeGreaterThanOrEqual(boxes[1].bottom);
      await page.waitForFunction(() => document.querySelector('#balance')?.textContent === '$9.40');

      // The tree comes from the lineage route: a page that remembers only the generation shows
      // both branches again after a reload.
      await page.evaluate(
        (root) => localStorage.setItem('longshot.chain', JSON.stringify([{ taskId: root, model: 'veo-3-1', prompt: '', mode: 'fast', parentTaskId: null }])),
        ids[0],
      );
      await page.reload();
      await page.waitForFunction(
        () =>
          document.querySelectorAll('#timeline li').length === 3 &&
          [...document.querySelectorAll('#timeline li button')].every((b) => b.getAttribute('data-state') === 'success'),
        undefined,
        { timeout: 30_000 },
      );
      expect(await tree()).toEqual(expected);
      expect(keyedRequests.some((url) => url.endsWith(`/api/v1/tasks/${ids[0]}/lineage`))).toBe(true);
      await page.click('#timeline li:nth-child(3) button');
      await page.waitForFunction(() => document.querySelector('#task-status')?.getAttribute('data-state') === 'success');
      await page.waitForFunction(
        () => [...document.querySelectorAll<HTMLImageElement>('#timeline img')].filter((img) => img.complete && img.naturalWidth > 0).length === 3,
      );

      // The key stays in this origin's storage and only the API saw it.
      expect(await page.evaluate(() => localStorage.getItem('longshot.apiKey'))).toBe(t.key);
      expect(keyedRequests.length).toBeGreaterThan(0);
      for (const url of keyedRequests) expect(url.startsWith(`${t.url}/api/v1/`), url).toBe(true);
      expect(problems).toEqual([]);

      await mkdir(fileURLToPath(new URL('../docs/', import.meta.url)), { recursive: true });
      // The extended video (selected) decodes too; the shot shows its first frame, not a spinner.
      expect(
        await page.evaluate(async () => {
          const v = document.querySelector<HTMLVideoElement>('#video')!;
          if (v.readyState < 2) await new Promise((r) => v.addEventListener('loadeddata', r, { once: true }));
          const ready = v.readyState;
          // For the screenshot: a frame from inside the continuation, without the loading spinner.
          v.currentTime = 11;
          await new Promise((r) => v.addEventListener('seeked', r, { once: true }));
          for (let i = 0; i < 50 && v.readyState < 4; i++) await new Promise((r) => setTimeout(r, 100));
          return ready;
        }),
      ).toBeGreaterThanOrEqual(2);
      // Headless Chromium draws a stale loading spinner in the native controls: hide them for the shot.
      await page.evaluate(() => {
        document.querySelector<HTMLVideoElement>('#video')!.controls = false;
      });
      await page.screenshot({ path: screenshot, fullPage: true });
    } finally {
      await browser.close();
    }
    // Three renders on a busy 2-core machine can take minutes; the waits above bound each step.
  }, 420_000);
});

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Doc, fetchDocument, operations, registeredRoutes } from './support/openapi.js';
import { available } from './support/requires.js';
import { startTestService, type TestService } from './support/service.js';

/**
 * The OpenAPI 3.1 document at /api/v1/openapi.json (docs/api.md, "OpenAPI") and the reference
 * page at /docs/api that reads it.
 */
const CHROMIUM = '/usr/bin/chromium';
const screenshot = fileURLToPath(new URL('../docs/api-reference.png', import.meta.url));

/**
 * Routes the document leaves out, on purpose: pages and their files are not API, and the two
 * `:model` routes are documented with `model` as a parameter (that is their own path). A HEAD
 * Fastify answers for a GET is GET without the body (RFC 9110), so it is listed only where the
 * route itself declares it (the files).
 */
const EXCLUDED = [
  /^\/$/, // the playground page
  /^\/web\/(?:common\/)?:file$/, // its files, and those it shares with the console
  /^\/console(?:\/:file)?$/, // the operator console and its files
  /^\/docs\/api(?:\/.*)?$/, // the reference page, its files, and the plugin's own copies of the document (json, yaml)
];

/** APIXO's own routes (docs/contract.md §2); everything else under /api/v1 is an addition. */
const APIXO = ['POST /api/v1/generateTask/{model}', 'GET /api/v1/statusTask/{model}', 'GET /api/v1/apikeys/current-balance'];
const NO_KEY = [
  'GET /api/v1/openapi.json',
  'GET /healthz',
  'GET /files/results/{name}',
  'HEAD /files/results/{name}',
  // The model catalogue: what a client reads before it has a key (docs/api.md, models).
  'GET /api/v1/models',
  'GET /docs/models/schemas/index.json',
  'GET /docs/models/schemas/{file}',
];

let t: TestService;
let doc: Doc;
beforeAll(async () => {
  t = await startTestService({}, { workers: false });
  doc = await fetchDocument(t);
});
afterAll(() => t?.close());

const isError = (status: string) => /^[45]\d\d$/.test(status);
const refsIn = (value: unknown): string[] => JSON.stringify(value).match(/"\$ref":"[^"]+"/g) ?? [];

describe('the document', () => {
  it('is served without a key, and validates as OpenAPI 3.1', async () => {
    const res = await fetch(`${t.url}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(doc.openapi).toBe('3.1.0');
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('lists every route the app registers, with its methods, but for the listed exclusions', () => {
    const routes = registeredRoutes(t.service.app!.printRoutes({ commonPrefix: false }));
    expect(routes.length).toBeGreaterThan(10);
    const missing: string[] = [];
    for (const { path, methods } of routes) {
      if (EXCLUDED.some((re) => re.test(path))) continue;
      const item = doc.paths[path.replace(/:(\w+)/g, '{$1}')];
      for (const method of methods) {
        const listed = item?.[method.toLowerCase()] !== undefined || (method === 'HEAD' && item?.get !== undefined);
        if (!listed) missing.push(`${method} ${path}`);
      }
    }
    expect(missing).toEqual([]);
    // And nothing is documented that is not served.
    const served = new Set(routes.flatMap(({ path, methods }) => methods.map((m) => `${m} ${path.replace(/:(\w+)/g, '{$1}')}`)));
    expect(operations(doc).filter(([path, method]) => !served.has(`${method.toUpperCase()} ${path}`))).toEqual([]);
  });

  it('describes every error answer with the envelope schema', () => {
    expect(doc.components.schemas.ErrorEnvelope).toMatchObject({ type: 'object', required: ['code', 'message', 'data'] });
    for (const [path, method, op] of operations(doc)) {
      const errors = Object.entries(op.responses as Record<string, any>).filter(([status]) => isError(status));
      // Every operation can be refused at least for a bad request, a fault and a shutdown.
      expect(errors.length, `${method} ${path}`).toBeGreaterThanOrEqual(6);
      for (const [status, response] of errors) {
        expect(refsIn(response.content), `${method} ${path} ${status}`).toContain('"$ref":"#/components/schemas/ErrorEnvelope"');
      }
    }
  });

  it('says for each route the errors it answers', () => {
    const codes = (path: string, method: string) => Object.keys(doc.paths[path]![method].responses);
    expect(codes('/api/v1/generateTask/{model}', 'post')).toEqual(
      expect.arrayContaining(['200', '400', '401', '402', '403', '404', '413', '415', '422', '429', '431']),
    );
    expect(codes('/api/v1/statusTask/{model}', 'get')).toEqual(expect.arrayContaining(['200', '400', '401', '403', '404', '429']));
    expect(codes('/api/v1/tasks/{taskId}/cancel', 'post')).toEqual(expect.arrayContaining(['200', '404', '409']));
    expect(codes('/files/results/{name}', 'get')).toEqual(expect.arrayContaining(['200', '206', '304', '403', '404', '410', '416']));
    expect(codes('/files/results/{name}', 'get')).not.toContain('401');
  });

  it('documents the bodies, query strings and path parameters of the routes', () => {
    const params = (path: string, method: string) =>
      Object.fromEntries((doc.paths[path]![method].parameters as any[]).map((p) => [`${p.in}:${p.name}`, { required: p.required, ...p.schema }]));
    expect(params('/api/v1/statusTask/{model}', 'get')).toMatchObject({
      'path:model': { required: true, enum: ['veo-3-1', 'veo-3-1-extend'] },
      'query:taskId': { required: true, type: 'string' },
      'query:wait': { required: false, type: 'string', 'x-longshot-addition': true },
    });
    expect(params('/api/v1/account/ledger', 'get')).toMatchObject({ 'query:limit': { type: 'string' }, 'query:cursor': { type: 'string' } });
    expect(params('/api/v1/tasks/{taskId}/cancel', 'post')).toMatchObject({ 'path:taskId': { required: true } });
    expect(params('/files/results/{name}', 'get')).toMatchObject({ 'query:expires': { required: true }, 'query:sig': { required: true } });
    const submit = doc.paths['/api/v1/generateTask/{model}']!.post.requestBody.content['application/json'];
    expect(refsIn(submit.schema)).toEqual(['"$ref":"#/components/schemas/GenerateTaskRequest"', '"$ref":"#/components/schemas/ExtendTaskRequest"']);
    expect(Object.keys(submit.examples).length).toBeGreaterThanOrEqual(2);
    expect(doc.paths['/api/v1/webhookDeliveries/redeliver']!.post.requestBody.content['application/json'].schema).toMatchObject({ required: ['taskId'] });
    expect(refsIn(doc.paths['/api/v1/statusTask/{model}']!.get.responses['200'].content)).toContain('"$ref":"#/components/schemas/TaskStatus"');
  });

  it('needs the API key where the API does, and the admin token on operator routes', () => {
    expect(doc.components.securitySchemes).toMatchObject({ apiKey: { type: 'http', scheme: 'bearer' }, adminToken: { type: 'http', scheme: 'bearer' } });
    expect(doc.security).toEqual([{ apiKey: [] }]);
    for (const [path, method, op] of operations(doc)) {
      const name = `${method.toUpperCase()} ${path}`;
      if (/^\/(?:admin\/|metrics$)/.test(path)) {
        expect({ name, security: op.security, tags: op.tags }).toEqual({ name, security: [{ adminToken: [] }], tags: expect.arrayContaining(['admin']) });
        expect(op.responses['401'], name).toBeDefined();
      } else if (NO_KEY.includes(name)) {
        expect({ name, security: op.security }).toEqual({ name, security: [] });
      } else {
        expect({ name, security: op.security }).toEqual({ name, security: undefined }); // the document's: the API key
        expect(Object.keys(op.responses), name).toEqual(expect.arrayContaining(['401', '429']));
      }
    }
  });

  it('marks what is beyond APIXO', () => {
    for (const [path, method, op] of operations(doc)) {
      const name = `${method.toUpperCase()} ${path}`;
      const apixo = APIXO.includes(name);
      expect({ name, apixo: op.tags.includes('apixo') }).toEqual({ name, apixo });
      if (path.startsWith('/api/v1/') && !apixo) {
        expect({ name, tags: op.tags, mark: op['x-longshot-addition'] }).toEqual({ name, tags: expect.arrayContaining(['beyond-apixo']), mark: true });
      }
    }
    // Additions to APIXO's own routes are marked where they are.
    expect(doc.components.schemas.TaskStatus.properties.posterUrl['x-longshot-addition']).toBe(true);
    const header = doc.paths['/api/v1/generateTask/{model}']!.post.parameters.find((p: any) => p.name === 'Idempotency-Key');
    expect(header.schema['x-longshot-addition']).toBe(true);
  });
});

describe('the reference page', () => {
  it('serves HTML that loads only same-origin files, all of which exist', async () => {
    const res = await fetch(`${t.url}/docs/api`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'/);
    const html = await res.text();
    const urls = [...html.matchAll(/\s(?:src|href)\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1]!);
    expect(urls.length).toBeGreaterThanOrEqual(4);
    for (const url of urls) {
      const absolute = new URL(url, `${t.url}/docs/api`);
      expect(absolute.origin, url).toBe(t.url);
      const file = await fetch(absolute);
      await file.arrayBuffer();
      expect({ url, status: file.status }).toEqual({ url, status: 200 });
    }
    // The page reads the document from the API's path.
    const init = await (await fetch(`${t.url}/docs/api/static/swagger-initializer.js`)).text();
    expect(init).toContain('"url":"/api/v1/openapi.json"');
  });
});

describe.skipIf(!available('Chromium', existsSync(CHROMIUM) ? null : `no ${CHROMIUM} (apt-get install chromium)`))('the reference page in a browser', () => {
  it('renders every operation from the document, without console errors or other origins', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless=new',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      const requested: string[] = [];
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
      page.on('console', (msg) => {
        if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
      });
      page.on('request', (req) => requested.push(req.url()));
      page.on('requestfailed', (req) => problems.push(`failed: ${req.url()} ${req.failure()?.errorText}`));

      await page.goto(`${t.url}/docs/api`);
      const count = operations(doc).length;
      await page.waitForFunction((n) => document.querySelectorAll('.opblock').length >= n, count, { timeout: 30_000 });
      const titles = await page.$$eval('.opblock-summary-path', (els) => els.map((e) => e.getAttribute('data-path')));
      expect(titles).toContain('/api/v1/statusTask/{model}');
      expect(await page.$$eval('.opblock-tag', (els) => els.map((e) => e.getAttribute('data-tag')))).toEqual(['apixo', 'files', 'beyond-apixo', 'admin']);
      expect(await page.textContent('.info .title')).toContain('Longshot API');

      await page.screenshot({ path: screenshot, fullPage: true });

      // An operation opens with its parameters, its body's examples and its answers.
      await page.click('#operations-apixo-generateTask .opblock-summary');
      await page.waitForSelector('#operations-apixo-generateTask .examples-select');
      const answers = await page.$$eval('#operations-apixo-generateTask .responses-table .response', (rows) => rows.map((r) => r.getAttribute('data-code')));
      expect(answers).toEqual(expect.arrayContaining(['200', '400', '402', '422', '429']));
      expect(requested).toContain(`${t.url}/api/v1/openapi.json`);
      for (const url of requested) expect(new URL(url).origin, url).toBe(t.url);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);
});

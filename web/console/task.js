// One task as the operator sees it: what was asked, what served it, when, the video, its
// lineage, its money and its webhooks.
import { ledgerTable } from './accounts.js';
import { admin, enc } from './api.js';
import { badge, bytes, card, dash, duration, empty, errorBox, facts, fill, h, loading, shortId, stateBadge, table, time, usd } from './dom.js';

function resultUrl(status) {
  try {
    return JSON.parse(status.resultJson ?? 'null')?.resultUrls?.[0] ?? null;
  } catch {
    return null;
  }
}

const link = (taskId) => h('a', { href: `#/tasks/${enc(taskId)}` }, shortId(taskId));
const between = (a, b) => (typeof a === 'number' && typeof b === 'number' ? duration(b - a) : '—');

function media(d) {
  const url = resultUrl(d.status);
  if (d.status.state === 'success' && url) {
    const video = h('video', { id: 'task-video', controls: true, playsinline: true, preload: 'metadata', 'aria-label': 'The task’s video' });
    if (d.status.posterUrl) video.poster = d.status.posterUrl;
    video.src = url;
    const parts = [video];
    if (d.status.posterUrl) {
      parts.push(
        h(
          'figure',
          { class: 'poster' },
          h('img', { id: 'task-poster', src: d.status.posterUrl, alt: 'Poster frame of the video' }),
          h('figcaption', { class: 'hint' }, 'Poster'),
        ),
      );
    }
    return h('div', { class: 'media' }, h('div', { class: 'stage' }, parts[0]), parts[1] ?? null);
  }
  const why =
    d.status.state === 'failed'
      ? 'No video: the task failed.'
      : d.times.deletedAt
        ? 'The video was deleted after its retention.'
        : `No video yet: the task is ${d.status.state}.`;
  return h('div', { class: 'media' }, h('div', { class: 'stage' }, h('p', { class: 'stage-empty' }, why)));
}

function inputFacts(input) {
  if (!input || typeof input !== 'object') return facts([['Input', String(input)]]);
  const shown = (v) => {
    if (v === null || v === undefined || (Array.isArray(v) && v.length === 0)) return '—';
    if (Array.isArray(v)) return v.join('\n');
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  };
  return facts(
    Object.entries(input)
      .filter(([k]) => k !== 'prompt')
      .map(([k, v]) => [k, h('span', { class: 'pre' }, shown(v))]),
  );
}

function lineage(l) {
  const rows = [
    ...l.sources.map((r) => ({ ...r, relation: r.taskId === l.rootTaskId ? 'root' : 'source' })),
    ...l.extensions.map((r) => ({ ...r, relation: 'extension' })),
  ];
  if (rows.length === 0) return empty('No lineage.', 'A generation that nothing has extended yet.');
  return table(
    [
      { label: 'Relation', cell: (r) => badge(r.relation, r.relation === 'extension' ? 'info' : 'muted') },
      { label: 'Task', cell: (r) => link(r.taskId) },
      { label: 'Model', cell: (r) => r.model },
      { label: 'Depth', num: true, cell: (r) => r.chainDepth },
      { label: 'State', cell: (r) => stateBadge(r.state) },
      { label: 'Created', cell: (r) => time(r.createTime) },
    ],
    rows,
    { label: 'Lineage', href: (r) => `#/tasks/${enc(r.taskId)}` },
  );
}

const DELIVERY_TONES = { delivered: 'ok', pending: 'warn', failed: 'bad' };

function webhooks(list, callbackUrl) {
  if (list.length === 0)
    return empty(callbackUrl ? 'No deliveries yet.' : 'No webhooks.', callbackUrl ? null : 'The task was not submitted with a callback URL.');
  return list.map((d) =>
    h(
      'div',
      { class: 'delivery' },
      facts([
        ['Webhook id', h('code', null, d.webhookId)],
        ['URL', h('span', { class: 'pre' }, d.url)],
        ['Trigger', d.trigger],
        ['State', badge(d.state, DELIVERY_TONES[d.state] ?? 'muted')],
        ['Created', time(d.createTime)],
        ['Completed', time(d.completeTime)],
        ['Next attempt', time(d.nextAttemptTime)],
      ]),
      d.attempts.length === 0
        ? h('p', { class: 'hint' }, 'No attempts yet.')
        : table(
            [
              { label: '#', num: true, cell: (a) => a.attempt },
              { label: 'Time', cell: (a) => time(a.time) },
              { label: 'HTTP', num: true, cell: (a) => dash(a.statusCode) },
              { label: 'Took', num: true, cell: (a) => duration(a.durationMs) },
              { label: 'Outcome', cell: (a) => badge(a.state, DELIVERY_TONES[a.state] ?? 'muted') },
              { label: 'Error', cell: (a) => dash(a.error) },
              { label: 'Next attempt', cell: (a) => time(a.nextAttemptTime) },
            ],
            d.attempts,
            { label: 'Delivery attempts' },
          ),
    ),
  );
}

/** An unfinished task's page reads it again this often, until it ends or the page moves on. */
const REFRESH_MS = 3000;

export async function taskView(root, { params, rerender }) {
  const id = params[0];
  const body = h('div', null, loading('the task'));
  fill(root, h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/tasks' }, 'Tasks'), ' / ', h('code', null, id)), body);
  let d;
  try {
    d = await admin('GET', `/tasks/${enc(id)}`);
  } catch (err) {
    return fill(body, errorBox(err));
  }
  const s = d.status;
  const t = d.times;
  // rerender does nothing once another route (or a newer render) took over.
  if (s.state === 'pending' || s.state === 'processing') setTimeout(() => rerender(), REFRESH_MS);
  fill(
    body,
    h(
      'div',
      { class: 'view-head row between' },
      h('h1', null, 'Task ', h('code', { class: 'title-id' }, s.taskId)),
      h('span', { id: 'task-state' }, stateBadge(s.state)),
    ),
    s.state === 'failed' ? h('p', { class: 'error', role: 'alert' }, h('strong', null, s.failCode ?? 'failed'), s.failMsg ? `: ${s.failMsg}` : '') : null,
    h(
      'div',
      { class: 'task-grid' },
      media(d),
      card(
        'Request',
        h('p', { class: 'prompt', id: 'task-prompt' }, dash(d.input?.prompt)),
        facts([
          ['Model', d.model],
          ['Mode', dash(d.input?.mode)],
          ['Provider', dash(d.provider)],
          ['Engine', dash(d.engine)],
          ['Upstream job', d.upstream ? h('code', { class: 'pre' }, `${d.upstream.jobId} (${d.upstream.engine})`) : '—'],
          ['Account', d.account.name ? h('a', { href: `#/accounts/${enc(d.account.name)}` }, d.account.name) : d.account.id],
          ['Key', d.keyId ? h('code', null, d.keyId) : '—'],
          ['Price', usd(d.priceUsd)],
          ['Attempts', String(d.attempts)],
          ['Request type', d.requestType],
          ['Callback URL', d.callbackUrl ? h('span', { class: 'pre' }, d.callbackUrl) : '—'],
          ['Fail code', s.failCode ? h('code', null, s.failCode) : '—'],
        ]),
      ),
    ),
    h(
      'div',
      { class: 'two' },
      card(
        'Timings',
        facts([
          ['Created', time(t.createTime)],
          ['Started', time(t.startTime)],
          ['Completed', time(t.completeTime)],
          ['Waited in queue', between(t.createTime, t.startTime)],
          ['Ran', between(t.startTime, t.completeTime)],
          ['Total', duration(s.costTime)],
          s.state === 'pending' ? ['Next run after', time(t.runAfter)] : null,
          t.leaseExpiresAt ? ['Lease expires', time(t.leaseExpiresAt)] : null,
          ['Kept until', time(t.expiresAt)],
          t.deletedAt ? ['Deleted', time(t.deletedAt)] : null,
        ]),
      ),
      card(
        'Result and input',
        d.result
          ? facts([
              ['Video length', duration(d.result.durationMs)],
              ['Size', d.result.width ? `${d.result.width} × ${d.result.height}` : '—'],
              ['File', bytes(d.result.sizeBytes)],
            ])
          : h('p', { class: 'hint' }, 'No result file.'),
        inputFacts(d.input),
      ),
    ),
    card('Lineage', lineage(d.lineage)),
    card('Ledger', d.ledger.length ? ledgerTable(d.ledger, false) : empty('No ledger entries.', 'A task without a price holds nothing.')),
    card('Webhooks', webhooks(d.webhooks, d.callbackUrl)),
  );
}

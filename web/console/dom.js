// Building the page without HTML strings: every value from the API becomes a text node or a
// property, never markup (XSS). Formatting of money, times and sizes lives here too.

const SVG_NS = 'http://www.w3.org/2000/svg';
/** Set as properties, not attributes: they are live state of form controls. */
const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'open']);

function assign(el, props) {
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

/** Children: nodes, or anything else as text (null, undefined and false are skipped). */
function append(el, children) {
  for (const c of children.flat(Number.POSITIVE_INFINITY)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** `h('a', {href: '#/tasks'}, 'Tasks')`: an HTML element. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  assign(el, props);
  return append(el, children);
}

/** An SVG element (the usage chart). */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  assign(el, props);
  return append(el, children);
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** USD exactly as the API gave it (no rounding): at least two decimals, thousands separated. */
export function usd(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
  const [whole, frac = ''] = String(Math.abs(n)).split('.');
  const digits = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${n < 0 ? '-' : ''}$${digits}.${frac.padEnd(2, '0')}`;
}

/** Integer micro-dollars of an API amount, so sums made here stay exact. */
export const micros = (n) => Math.round(n * 1_000_000);

/** A Unix-ms time in UTC, the zone usage days and the date filters use. */
export function time(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** An ISO timestamp (the engine table's) in the same form. */
export const isoTime = (iso) => (typeof iso === 'string' ? time(Date.parse(iso)) : '—');

export function duration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  const sec = Math.round((ms % 60_000) / 1000);
  return m < 60 ? `${m} min ${sec} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function bytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 ** 2).toFixed(1)} MB`;
}

export const dash = (v) => (v === null || v === undefined || v === '' ? '—' : v);

/** Colored pill; `tone` is ok, warn, bad, info or muted. */
export const badge = (text, tone) => h('span', { class: 'badge', dataset: { tone } }, text);

const STATE_TONES = { pending: 'info', processing: 'warn', success: 'ok', failed: 'bad' };
export const stateBadge = (state) => badge(state, STATE_TONES[state] ?? 'muted');

/** A task or key id in monospace, shortened for tables (the whole id in its title). */
export const shortId = (id) => h('code', { class: 'id', title: id }, id.length > 14 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id);

/**
 * A table: `columns` are `{label, cell(row) → node or text, num?}`; rows with `href(row)` open
 * that route when clicked anywhere (the first cell should hold a real link for the keyboard).
 */
export function table(columns, rows, opts = {}) {
  const body = h('tbody');
  const addRows = (list) => {
    for (const row of list) {
      const href = opts.href?.(row);
      const tr = h('tr', { class: href ? 'link-row' : undefined, onclick: href ? (e) => followRow(e, href) : undefined });
      for (const c of columns) tr.append(h('td', { class: c.num ? 'num' : c.class }, c.cell(row)));
      body.append(tr);
    }
  };
  addRows(rows);
  const el = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { 'aria-label': opts.label },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : c.class }, c.label)),
        ),
      ),
      body,
    ),
  );
  return Object.assign(el, { addRows });
}

function followRow(event, href) {
  // Links, buttons and selected text inside the row keep their own meaning.
  if (event.target.closest('a, button, input, select') || String(window.getSelection())) return;
  location.hash = href;
}

/** What a list says when it has nothing in it. */
export const empty = (title, hint) => h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, title), hint ? h('p', { class: 'hint' }, hint) : null);

export const loading = (what) => h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), `Loading ${what}…`);

/** An inline error: the API's own sentence (it names the field). */
export const errorBox = (err) => h('p', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err));

/** Label / value pairs (the task page, the account header). */
export function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs.filter(Boolean).map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v === null || v === undefined || v === '' ? '—' : v))),
  );
}

/** A titled card. */
export const card = (title, ...children) => h('section', { class: 'card' }, title ? h('h2', null, title) : null, ...children);

// Tasks of every account: filters in the route's query (so a filtered list can be linked to),
// newest first, cursor pages appended by "Load more".
import { moreButton } from './accounts.js';
import { admin, enc, query } from './api.js';
import { card, dash, duration, empty, errorBox, fill, h, loading, shortId, stateBadge, table, time } from './dom.js';

const FILTERS = ['account', 'key', 'state', 'model', 'engine', 'from', 'to'];
/** Rows per page; `limit` in the route (1–100) sets another. */
const PAGE = 25;

const select = (name, label, options, value) =>
  h(
    'div',
    { class: 'field' },
    h('label', { for: `filter-${name}` }, label),
    h(
      'select',
      { id: `filter-${name}`, name },
      h('option', { value: '' }, 'any'),
      options.map((o) => (typeof o === 'string' ? [o, o] : o)).map(([v, text]) => h('option', { value: v, selected: v === value }, text)),
    ),
  );

const input = (name, label, type, value, placeholder) =>
  h(
    'div',
    { class: 'field' },
    h('label', { for: `filter-${name}` }, label),
    h('input', { id: `filter-${name}`, name, type, value: value ?? '', placeholder, spellcheck: 'false', autocomplete: 'off' }),
  );

function filterForm(q, accounts, engines) {
  const form = h(
    'form',
    { id: 'task-filters', class: 'filters', novalidate: true },
    select(
      'account',
      'Account',
      accounts.map((a) => [a.name, a.name]),
      q.account,
    ),
    input('key', 'Key id', 'text', q.key, 'key_…'),
    select('state', 'State', ['pending', 'processing', 'success', 'failed'], q.state),
    select('model', 'Model', ['veo-3-1', 'veo-3-1-extend'], q.model),
    select(
      'engine',
      'Engine',
      engines.map((e) => e.engine),
      q.engine,
    ),
    input('from', 'Created from', 'date', q.from),
    input('to', 'to (UTC)', 'date', q.to),
    h(
      'div',
      { class: 'filter-actions' },
      h('button', { type: 'submit', class: 'primary', id: 'apply-filters' }, 'Apply'),
      h('a', { class: 'button ghost', href: '#/tasks' }, 'Reset'),
    ),
  );
  // An account or engine named in the link but not (yet) in the lists is still kept.
  for (const [name, v] of [
    ['account', q.account],
    ['engine', q.engine],
  ]) {
    const el = form.elements[name];
    if (v && el.value !== v) el.append(h('option', { value: v, selected: true }, v));
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = {};
    for (const name of FILTERS) chosen[name] = form.elements[name].value.trim();
    location.hash = `#/tasks${query(chosen)}`;
  });
  return form;
}

const COLUMNS = [
  { label: 'Task', cell: (t) => h('a', { href: `#/tasks/${enc(t.taskId)}` }, shortId(t.taskId)) },
  { label: 'State', cell: (t) => stateBadge(t.state) },
  { label: 'Model', cell: (t) => t.model },
  { label: 'Account', cell: (t) => dash(t.accountName ?? t.accountId) },
  { label: 'Key', cell: (t) => (t.keyId ? shortId(t.keyId) : '—') },
  { label: 'Engine', cell: (t) => dash(t.engine) },
  { label: 'Created', cell: (t) => time(t.createTime) },
  { label: 'Took', num: true, cell: (t) => duration(t.costTime) },
  { label: 'Tries', num: true, cell: (t) => t.attempts },
  { label: 'Fail code', cell: (t) => (t.failCode ? h('code', null, t.failCode) : '—') },
];

export async function tasksView(root, { query: q }) {
  const list = h('div', null, loading('tasks'));
  const filters = h('div', null, loading('filters'));
  fill(
    root,
    h('div', { class: 'view-head' }, h('h1', null, 'Tasks'), h('p', { class: 'hint' }, 'Every account’s tasks, newest first. Dates are UTC days of creation.')),
    card(null, filters),
    card(null, list),
  );
  const [accounts, engines] = await Promise.allSettled([admin('GET', '/accounts'), admin('GET', '/engines')]);
  fill(filters, filterForm(q, accounts.value?.accounts ?? [], engines.value?.engines ?? []));
  const params = {};
  for (const name of FILTERS) params[name] = q[name];
  const limit = /^\d{1,3}$/.test(q.limit ?? '') && Number(q.limit) >= 1 && Number(q.limit) <= 100 ? Number(q.limit) : PAGE;
  let page;
  try {
    page = await admin('GET', `/tasks${query({ ...params, limit })}`);
  } catch (err) {
    return fill(list, errorBox(err));
  }
  const filtered = FILTERS.some((n) => q[n]);
  if (page.tasks.length === 0) {
    return fill(
      list,
      filtered
        ? empty('No tasks match these filters.', 'Widen the dates or reset the filters.')
        : empty('No tasks yet.', 'Tasks submitted with any key appear here.'),
    );
  }
  const t = table(COLUMNS, page.tasks, { label: 'Tasks', href: (task) => `#/tasks/${enc(task.taskId)}` });
  fill(
    list,
    t,
    moreButton(page.nextCursor, async (cursor) => {
      const next = await admin('GET', `/tasks${query({ ...params, limit, cursor })}`);
      t.addRows(next.tasks);
      return next.nextCursor;
    }),
  );
}

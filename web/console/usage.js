// Usage per UTC day: tasks and spend as stacked bars by model or by engine, the totals of each
// group, and the rows the API reports (day × account × model × engine).
import { admin, query } from './api.js';
import { legend, PALETTE, stackedBars } from './chart.js';
import { card, empty, errorBox, fill, h, loading, micros, table, usd } from './dom.js';

const NONE = '(not served yet)';
const DAY_MS = 86_400_000;

function daysBetween(from, to) {
  const out = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += DAY_MS) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

function controls(q, accounts, group) {
  const form = h(
    'form',
    { id: 'usage-controls', class: 'filters', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'usage-from' }, 'From'), h('input', { id: 'usage-from', name: 'from', type: 'date', value: q.from ?? '' })),
    h('div', { class: 'field' }, h('label', { for: 'usage-to' }, 'to (UTC)'), h('input', { id: 'usage-to', name: 'to', type: 'date', value: q.to ?? '' })),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'usage-account' }, 'Account'),
      h(
        'select',
        { id: 'usage-account', name: 'account' },
        h('option', { value: '' }, 'all accounts'),
        accounts.map((a) => h('option', { value: a.name, selected: a.name === q.account }, a.name)),
      ),
    ),
    h(
      'fieldset',
      { class: 'field' },
      h('legend', null, 'Group by'),
      h(
        'div',
        { class: 'segmented' },
        ['model', 'engine'].flatMap((g) => [
          h('input', { type: 'radio', id: `group-${g}`, name: 'group', value: g, checked: g === group }),
          h('label', { for: `group-${g}` }, g === 'model' ? 'Model' : 'Engine'),
        ]),
      ),
    ),
    h('div', { class: 'filter-actions' }, h('button', { type: 'submit', class: 'primary', id: 'apply-usage' }, 'Show')),
  );
  const go = () => {
    const f = form.elements;
    location.hash = `#/usage${query({ from: f.from.value, to: f.to.value, account: f.account.value, group: form.querySelector('input[name="group"]:checked')?.value })}`;
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    go();
  });
  for (const radio of form.querySelectorAll('input[name="group"]')) radio.addEventListener('change', go);
  return form;
}

/** Sums of the rows per group and per day × group, in micro-dollars for money so they stay exact. */
function aggregate(rows, group) {
  const byGroup = new Map();
  const byDay = new Map();
  for (const r of rows) {
    const key = r[group] ?? NONE;
    const g = byGroup.get(key) ?? { key, tasks: 0, succeeded: 0, failed: 0, videoMs: 0, spent: 0 };
    g.tasks += r.tasks;
    g.succeeded += r.succeeded;
    g.failed += r.failed;
    g.videoMs += Math.round(r.videoSeconds * 1000);
    g.spent += micros(r.spentUsd);
    byGroup.set(key, g);
    const cell = `${r.date}|${key}`;
    const d = byDay.get(cell) ?? { tasks: 0, spent: 0 };
    d.tasks += r.tasks;
    d.spent += micros(r.spentUsd);
    byDay.set(cell, d);
  }
  return { groups: [...byGroup.values()].sort((a, b) => a.key.localeCompare(b.key)), byDay };
}

const figureColumns = (first) => [
  first,
  { label: 'Tasks', num: true, cell: (r) => r.tasks },
  { label: 'Succeeded', num: true, cell: (r) => r.succeeded },
  { label: 'Failed', num: true, cell: (r) => r.failed },
  { label: 'Video seconds', num: true, cell: (r) => r.videoSeconds },
  { label: 'Spent', num: true, cell: (r) => usd(r.spentUsd) },
];

export async function usageView(root, { query: q }) {
  const group = q.group === 'engine' ? 'engine' : 'model';
  const top = h('div', null, loading('filters'));
  const body = h('div', null, loading('usage'));
  fill(
    root,
    h(
      'div',
      { class: 'view-head' },
      h('h1', null, 'Usage'),
      h('p', { class: 'hint' }, 'Per UTC day: a task counts on the day it was created; spend is what finished tasks captured (failed ones cost nothing).'),
    ),
    card(null, top),
    body,
  );
  const accounts = await admin('GET', '/accounts').catch(() => ({ accounts: [] }));
  fill(top, controls(q, accounts.accounts, group));
  let data;
  try {
    data = await admin('GET', `/usage${query({ from: q.from, to: q.to, account: q.account })}`);
  } catch (err) {
    return fill(body, errorBox(err));
  }
  const days = daysBetween(data.from, data.to);
  const { groups, byDay } = aggregate(data.rows, group);
  const series = groups.map((g, i) => ({ key: g.key, label: g.key, color: PALETTE[i % PALETTE.length] }));
  const at = (day, key, what) => byDay.get(`${day}|${key}`)?.[what] ?? 0;
  const range = `${data.from} to ${data.to}`;
  fill(
    body,
    card(
      `Tasks and spend per day by ${group}`,
      h('p', { class: 'hint' }, range),
      data.rows.length === 0 ? empty('No tasks in this range.', 'Pick other dates or another account.') : legend(series),
      h(
        'div',
        { class: 'charts' },
        stackedBars({
          id: 'chart-tasks',
          title: 'Tasks',
          yLabel: 'tasks',
          days,
          series,
          value: (d, k) => at(d, k, 'tasks'),
          tick: (v) => String(v),
          exact: (v) => `${v} task${v === 1 ? '' : 's'}`,
          integer: true,
        }),
        stackedBars({
          id: 'chart-spend',
          title: 'Spend (USD)',
          yLabel: 'USD',
          days,
          series,
          value: (d, k) => at(d, k, 'spent') / 1_000_000,
          tick: (v) => (Number.isInteger(Math.round(v * 1e6) / 1e4) ? `$${v.toFixed(2)}` : `$${Number(v.toFixed(6))}`),
          exact: (v) => usd(Number(v.toFixed(6))),
        }),
      ),
    ),
    card(
      `Totals by ${group}`,
      table(
        figureColumns({ label: group === 'model' ? 'Model' : 'Engine', cell: (r) => (r.total ? h('strong', null, r.key) : r.key) }),
        [...groups.map((g) => ({ ...g, videoSeconds: g.videoMs / 1000, spentUsd: g.spent / 1_000_000 })), { key: 'All', total: true, ...data.totals }],
        { label: 'Totals' },
      ),
    ),
    card(
      'Per day, account, model and engine',
      data.rows.length === 0
        ? empty('Nothing to list.')
        : table(
            [
              { label: 'Day', cell: (r) => r.date },
              { label: 'Account', cell: (r) => r.accountName ?? r.accountId },
              { label: 'Model', cell: (r) => r.model },
              { label: 'Engine', cell: (r) => r.engine ?? NONE },
              ...figureColumns(null).slice(1),
            ],
            data.rows,
            { label: 'Usage rows' },
          ),
    ),
  );
}

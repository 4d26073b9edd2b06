// Accounts: the list with balances, creating and crediting, and one account's page (balances,
// keys, ledger).
import { admin, enc, query } from './api.js';
import { formDialog } from './dialogs.js';
import { badge, card, dash, empty, errorBox, fill, h, loading, shortId, table, time, usd } from './dom.js';
import { createKeyFlow, keysTable } from './keys.js';

const amountField = (id, label, required) =>
  h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    h('input', { id, name: id.replace(/^credit-/, ''), type: 'number', min: '0', step: 'any', inputmode: 'decimal', required, placeholder: '25.00' }),
  );

/** Credits `name`; resolves the API's answer, or null when cancelled. */
function creditFlow(name) {
  return formDialog(
    {
      id: 'credit-dialog',
      title: `Credit ${name}`,
      intro: 'Adds to the available balance with an append-only ledger entry.',
      fields: h(
        'div',
        { class: 'form-grid' },
        amountField('credit-usd', 'Amount (USD)', true),
        h(
          'div',
          { class: 'field wide' },
          h('label', { for: 'credit-note' }, 'Note ', h('span', { class: 'optional' }, '(optional)')),
          h('input', { id: 'credit-note', name: 'note', type: 'text', maxlength: '500', placeholder: 'e.g. invoice 2026-117' }),
        ),
      ),
      submitLabel: 'Add credit',
    },
    (form) => {
      const f = form.elements;
      const body = { usd: f.usd.value === '' ? null : Number(f.usd.value) };
      if (f.note.value.trim() !== '') body.note = f.note.value.trim();
      return admin('POST', `/accounts/${enc(name)}/credit`, body);
    },
  );
}

function createAccountForm(done) {
  const problem = h('div');
  const form = h(
    'form',
    { id: 'new-account', class: 'inline-form', novalidate: true },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'account-name' }, 'Name'),
      h('input', {
        id: 'account-name',
        name: 'name',
        type: 'text',
        maxlength: '64',
        required: true,
        placeholder: 'acme',
        autocomplete: 'off',
        spellcheck: 'false',
      }),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'account-credit' }, 'Initial credit (USD) ', h('span', { class: 'optional' }, '(optional)')),
      h('input', { id: 'account-credit', name: 'creditUsd', type: 'number', min: '0', step: 'any', inputmode: 'decimal', placeholder: '0' }),
    ),
    h('button', { type: 'submit', class: 'primary', id: 'create-account' }, 'Create account'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    problem.replaceChildren();
    const f = form.elements;
    const body = { name: f.name.value.trim() };
    if (f.creditUsd.value !== '') body.creditUsd = Number(f.creditUsd.value);
    try {
      const account = await admin('POST', '/accounts', body);
      form.reset();
      done(account);
    } catch (err) {
      problem.replaceChildren(errorBox(err));
    }
  });
  return h('div', null, form, problem);
}

export async function accountsView(root, { rerender }) {
  const notice = h('div', { role: 'status' });
  const list = h('div', null, loading('accounts'));
  fill(
    root,
    h(
      'div',
      { class: 'view-head' },
      h('h1', null, 'Accounts'),
      h('p', { class: 'hint' }, 'Balances in USD: available to spend, held by unfinished tasks, captured by finished ones.'),
    ),
    card(
      'New account',
      createAccountForm((a) => rerender(`Account ${a.name} created.`)),
    ),
    notice,
    card('All accounts', list),
  );
  let accounts;
  try {
    accounts = (await admin('GET', '/accounts')).accounts;
  } catch (err) {
    return fill(list, errorBox(err));
  }
  if (accounts.length === 0) return fill(list, empty('No accounts yet.', 'Create the first one above.'));
  fill(
    list,
    table(
      [
        { label: 'Name', cell: (a) => h('a', { href: `#/accounts/${enc(a.name)}` }, a.name) },
        { label: 'Available', num: true, cell: (a) => usd(a.availableUsd) },
        { label: 'Held', num: true, cell: (a) => usd(a.heldUsd) },
        { label: 'Captured', num: true, cell: (a) => usd(a.capturedUsd) },
        { label: 'Credited', num: true, cell: (a) => usd(a.creditedUsd) },
        { label: 'Created', cell: (a) => time(a.createdAt) },
        {
          label: 'Actions',
          class: 'actions',
          cell: (a) =>
            h(
              'button',
              {
                type: 'button',
                class: 'small',
                dataset: { credit: a.name },
                onclick: async () => {
                  const done = await creditFlow(a.name);
                  if (done) rerender(`Credited ${usd(done.creditedUsd)} to ${a.name}.`);
                },
              },
              'Credit',
            ),
        },
      ],
      accounts,
      { label: 'Accounts', href: (a) => `#/accounts/${enc(a.name)}` },
    ),
  );
}

const KIND_TONES = { credit: 'ok', hold: 'warn', capture: 'info', release: 'muted' };

/** Ledger entries (an account's or a task's) as a table. */
export function ledgerTable(entries, withTask) {
  return table(
    [
      { label: 'Time', cell: (e) => time(e.createTime) },
      { label: 'Kind', cell: (e) => badge(e.kind, KIND_TONES[e.kind] ?? 'muted') },
      { label: 'Amount', num: true, cell: (e) => usd(e.amount) },
      withTask ? { label: 'Task', cell: (e) => (e.taskId ? h('a', { href: `#/tasks/${enc(e.taskId)}` }, shortId(e.taskId)) : '—') } : null,
      { label: 'Note', cell: (e) => dash(e.note) },
    ].filter(Boolean),
    entries,
    { label: 'Ledger' },
  );
}

export async function accountView(root, { params, rerender }) {
  const name = params[0];
  const notice = h('div', { role: 'status' });
  const head = h('div', null, loading('the account'));
  const keys = h('div', null, loading('keys'));
  const ledger = h('div', null, loading('the ledger'));
  const newKey = h('button', { type: 'button', class: 'primary', id: 'new-key' }, 'New key');
  const credit = h('button', { type: 'button', id: 'credit-account' }, 'Credit');
  fill(
    root,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/accounts' }, 'Accounts'), ' / ', h('span', null, name)),
    h(
      'div',
      { class: 'view-head row between' },
      h('h1', null, name),
      h('div', { class: 'row' }, h('a', { class: 'button ghost', href: `#/tasks${query({ account: name })}` }, 'Tasks'), credit, newKey),
    ),
    notice,
    head,
    card('API keys', keys),
    card('Ledger', ledger),
  );
  const fail = (err) => fill(notice, errorBox(err));
  credit.addEventListener('click', async () => {
    const done = await creditFlow(name);
    if (done) rerender(`Credited ${usd(done.creditedUsd)}.`);
  });
  newKey.addEventListener('click', async () => {
    try {
      if (await createKeyFlow(name)) rerender('Key created.');
    } catch (err) {
      fail(err);
    }
  });

  const [account, keyList, page] = await Promise.allSettled([
    admin('GET', `/accounts/${enc(name)}`),
    admin('GET', `/keys${query({ account: name })}`),
    admin('GET', `/accounts/${enc(name)}/ledger${query({ limit: 50 })}`),
  ]);
  if (account.status === 'rejected') {
    fill(head, errorBox(account.reason));
    newKey.disabled = true;
    credit.disabled = true;
  } else {
    const a = account.value;
    fill(
      head,
      h(
        'div',
        { class: 'stats' },
        [
          ['Available', a.availableUsd],
          ['Held', a.heldUsd],
          ['Captured', a.capturedUsd],
          ['Credited', a.creditedUsd],
        ].map(([k, v]) =>
          h('div', { class: 'stat', dataset: { stat: k.toLowerCase() } }, h('span', { class: 'stat-label' }, k), h('span', { class: 'stat-value' }, usd(v))),
        ),
      ),
      h('p', { class: 'hint' }, 'Account id ', h('code', null, a.id), ` · created ${time(a.createdAt)}`),
    );
  }
  if (keyList.status === 'rejected') fill(keys, errorBox(keyList.reason));
  else
    fill(
      keys,
      keysTable(keyList.value.keys, () => rerender('Key updated.'), fail),
    );
  if (page.status === 'rejected') return fill(ledger, errorBox(page.reason));
  if (page.value.entries.length === 0) return fill(ledger, empty('No ledger entries yet.', 'Credits, holds, captures and releases appear here.'));
  const t = ledgerTable(page.value.entries, true);
  fill(
    ledger,
    t,
    moreButton(page.value.nextCursor, async (cursor) => {
      const next = await admin('GET', `/accounts/${enc(name)}/ledger${query({ limit: 50, cursor })}`);
      t.addRows(next.entries);
      return next.nextCursor;
    }),
  );
}

/** "Load more" for cursor pages: `load(cursor)` appends a page and returns the next cursor. */
export function moreButton(cursor, load) {
  const wrap = h('div', { class: 'more' });
  let next = cursor;
  const button = h('button', { type: 'button', class: 'ghost', id: 'load-more' }, 'Load more');
  const problem = h('div');
  button.addEventListener('click', async () => {
    button.disabled = true;
    button.textContent = 'Loading…';
    problem.replaceChildren();
    try {
      next = await load(next);
    } catch (err) {
      problem.replaceChildren(errorBox(err));
    }
    button.disabled = false;
    button.textContent = 'Load more';
    button.hidden = !next;
  });
  button.hidden = !next;
  return fill(wrap, button, problem);
}

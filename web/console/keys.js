// API keys of one account: the table, the create/edit dialog (label, permissions, limits,
// budget: every setting /admin/v1/keys takes), the one-time secret and the revoke.
import { admin, enc } from './api.js';
import { confirmDialog, formDialog, secretDialog } from './dialogs.js';
import { badge, dash, empty, h, shortId, table, time, usd } from './dom.js';

const MODELS = ['veo-3-1', 'veo-3-1-extend'];
const STRATEGIES = ['auto', 'value', 'official'];

const checkGroup = (name, legend, options, chosen) =>
  h(
    'fieldset',
    { class: 'field' },
    h('legend', null, legend),
    h(
      'div',
      { class: 'checks' },
      options.map((o) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name, value: o, checked: chosen === null || chosen.includes(o) }), o)),
    ),
  );

const numberField = (name, label, value, hint, step = '1') =>
  h(
    'div',
    { class: 'field' },
    h('label', { for: `key-${name}` }, label),
    h('input', { id: `key-${name}`, name, type: 'number', min: '0', step, inputmode: step === '1' ? 'numeric' : 'decimal', value: value ?? '' }),
    hint ? h('span', { class: 'hint' }, hint) : null,
  );

function keyFields(k) {
  return h(
    'div',
    { class: 'form-grid' },
    h(
      'div',
      { class: 'field wide' },
      h('label', { for: 'key-label' }, 'Label'),
      h('input', { id: 'key-label', name: 'label', type: 'text', maxlength: '200', value: k?.label ?? '', placeholder: 'e.g. production' }),
    ),
    checkGroup('models', 'Models', MODELS, k?.models ?? null),
    checkGroup('strategies', 'Providers', STRATEGIES, k?.strategies ?? null),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'key-defaultStrategy' }, 'Default provider'),
      h(
        'select',
        { id: 'key-defaultStrategy', name: 'defaultStrategy' },
        h('option', { value: '' }, 'service default (auto)'),
        STRATEGIES.map((s) => h('option', { value: s, selected: k?.defaultStrategy === s }, s)),
      ),
    ),
    numberField('submitRpm', 'Submits per minute', k?.submitRpm, 'empty: service default · 0: unlimited'),
    numberField('statusRpm', 'Status reads per minute', k?.statusRpm, 'empty: service default · 0: unlimited'),
    numberField('maxUnfinished', 'Unfinished tasks at once', k?.maxUnfinished, 'empty: service default · 0: unlimited'),
    numberField('budgetUsd', 'Budget (USD)', k && k.budgetUsd > 0 ? k.budgetUsd : '', 'empty or 0: no budget', 'any'),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'key-budgetPeriod' }, 'Budget period'),
      h(
        'select',
        { id: 'key-budgetPeriod', name: 'budgetPeriod' },
        ['day', 'month'].map((p) => h('option', { value: p, selected: (k?.budgetPeriod ?? 'day') === p }, `per UTC ${p}`)),
      ),
    ),
  );
}

/** The form as the API's key fields; all of them, so an edit sets exactly what the form shows. */
function keyBody(form) {
  const f = form.elements;
  const checked = (name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
  const list = (name, all) => {
    const chosen = checked(name);
    // Every option ticked is "all", which also covers models added later.
    return chosen.length === all.length ? null : chosen;
  };
  const num = (name) => (f[name].value === '' ? null : Number(f[name].value));
  return {
    label: f.label.value.trim() === '' ? null : f.label.value.trim(),
    models: list('models', MODELS),
    strategies: list('strategies', STRATEGIES),
    defaultStrategy: f.defaultStrategy.value === '' ? null : f.defaultStrategy.value,
    submitRpm: num('submitRpm'),
    statusRpm: num('statusRpm'),
    maxUnfinished: num('maxUnfinished'),
    budgetUsd: num('budgetUsd') ?? 0,
    budgetPeriod: f.budgetPeriod.value,
  };
}

/** Creates a key for `account`, then shows its text once. */
export async function createKeyFlow(account) {
  const created = await formDialog(
    {
      id: 'key-dialog',
      title: `New key for ${account}`,
      intro: 'Limits left empty follow the service defaults.',
      fields: keyFields(null),
      submitLabel: 'Create key',
    },
    (form) => admin('POST', '/keys', { account, ...keyBody(form) }),
  );
  if (!created) return false;
  await secretDialog(created.key, `Key ${created.id}${created.label ? ` (${created.label})` : ''} for account ${created.account}:`);
  return true;
}

async function editKeyFlow(k) {
  const updated = await formDialog(
    { id: 'key-dialog', title: `Edit key ${k.label ?? k.id}`, intro: 'Changes apply within a second.', fields: keyFields(k), submitLabel: 'Save' },
    (form) => admin('PATCH', `/keys/${enc(k.id)}`, keyBody(form)),
  );
  return Boolean(updated);
}

async function revokeKeyFlow(k) {
  const sure = await confirmDialog({
    id: 'revoke-dialog',
    title: 'Revoke this key?',
    message: `Key ${k.label ? `"${k.label}" ` : ''}${k.id} stops working within a second, also for requests already waiting. This cannot be undone.`,
    confirmLabel: 'Revoke key',
  });
  if (!sure) return false;
  await admin('POST', `/keys/${enc(k.id)}/revoke`);
  return true;
}

const limit = (n) => (n === null ? 'default' : n === 0 ? 'unlimited' : String(n));

function budget(k) {
  if (!(k.budgetUsd > 0)) return 'none';
  return `${usd(k.budgetSpentUsd ?? 0)} of ${usd(k.budgetUsd)} / ${k.budgetPeriod}`;
}

/** The keys table; `changed()` re-renders the page after an edit or a revoke; `fail(err)` shows a problem. */
export function keysTable(keys, changed, fail) {
  if (keys.length === 0) return empty('No keys yet.', 'Create one to let this account submit tasks.');
  const act = (fn, k) => async () => {
    try {
      if (await fn(k)) changed();
    } catch (err) {
      fail(err);
    }
  };
  return table(
    [
      { label: 'Label', cell: (k) => dash(k.label) },
      { label: 'Key id', cell: (k) => shortId(k.id) },
      { label: 'State', cell: (k) => (k.state === 'active' ? badge('active', 'ok') : badge('revoked', 'muted')) },
      { label: 'Models', cell: (k) => (k.models === null ? 'all' : k.models.join(', ') || 'none') },
      { label: 'Providers', cell: (k) => (k.strategies === null ? 'all' : k.strategies.join(', ') || 'none') },
      { label: 'Submit / status rpm', cell: (k) => `${limit(k.submitRpm)} / ${limit(k.statusRpm)}` },
      { label: 'Unfinished', cell: (k) => limit(k.maxUnfinished) },
      { label: 'Budget', cell: budget },
      { label: 'Created', cell: (k) => time(k.createdAt) },
      {
        label: 'Actions',
        class: 'actions',
        cell: (k) =>
          k.state === 'active'
            ? h(
                'div',
                { class: 'row' },
                h('button', { type: 'button', class: 'small ghost', onclick: act(editKeyFlow, k) }, 'Edit'),
                h('button', { type: 'button', class: 'small danger-ghost', dataset: { revoke: k.id }, onclick: act(revokeKeyFlow, k) }, 'Revoke'),
              )
            : h('span', { class: 'hint' }, `revoked ${time(k.revokedAt)}`),
      },
    ],
    keys,
    { label: 'API keys' },
  );
}

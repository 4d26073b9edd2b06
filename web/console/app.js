// Longshot operator console: plain ES modules, no build step, no third-party code. Hash routes
// (#/accounts, #/accounts/NAME, #/tasks?…, #/tasks/ID, #/usage?…, #/engines) render into <main>.
import { accountsView, accountView } from './accounts.js';
import { admin, token, whenRefused } from './api.js';
import { errorBox, fill, h } from './dom.js';
import { enginesView } from './engines.js';
import { taskView } from './task.js';
import { tasksView } from './tasks.js';
import { usageView } from './usage.js';

const $ = (id) => document.getElementById(id);
const els = {
  signin: $('signin'),
  signinForm: $('signin-form'),
  tokenInput: $('admin-token'),
  toggle: $('toggle-token'),
  signinError: $('signin-error'),
  shell: $('shell'),
  view: $('view'),
  flash: $('flash'),
  signout: $('signout'),
};

const ROUTES = {
  accounts: (params) => (params.length ? accountView : accountsView),
  tasks: (params) => (params.length ? taskView : tasksView),
  usage: () => usageView,
  engines: () => enginesView,
};

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, search = ''] = raw.split('?');
  const [section = '', ...params] = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { section, params, query: Object.fromEntries(new URLSearchParams(search)) };
}

/** Each render gets a number; a slower earlier one must not paint over a later one. */
let renderCount = 0;

async function render(flashText) {
  if (!token.get()) return showSignin();
  const { section, params, query } = parseHash();
  if (!ROUTES[section]) {
    location.replace('#/accounts');
    return;
  }
  for (const a of document.querySelectorAll('.nav a')) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const mine = ++renderCount;
  delete els.view.dataset.ready;
  const root = h('div', { class: 'view-body' });
  els.view.replaceChildren(root);
  fill(els.flash, flashText ? h('p', { class: 'flash', role: 'status' }, flashText) : null);
  document.title = `${section[0].toUpperCase()}${section.slice(1)} · Longshot console`;
  const view = ROUTES[section](params);
  try {
    await view(root, { params, query, rerender: (text) => mine === renderCount && render(text) });
  } catch (err) {
    if (mine === renderCount) root.append(errorBox(err));
  }
  if (mine === renderCount) els.view.dataset.ready = section;
}

function showSignin(message) {
  els.shell.hidden = true;
  els.signin.hidden = false;
  fill(els.signinError, message ? errorBox(message) : null);
  els.tokenInput.focus();
}

function showShell() {
  els.signin.hidden = true;
  els.shell.hidden = false;
  els.tokenInput.value = '';
}

els.signinForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const candidate = els.tokenInput.value.trim();
  if (!candidate) return showSignin('Paste the admin token first.');
  fill(els.signinError, h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Checking the token…'));
  try {
    // Any admin route would do; the engine table is small.
    await admin('GET', '/engines', undefined, candidate);
  } catch (err) {
    const message =
      err.status === 401
        ? `This admin token was refused. Use LONGSHOT_ADMIN_TOKEN or the token printed at the first start (not an lsk_ API key). The server said: ${err.message}`
        : err.message;
    return showSignin(message);
  }
  token.set(candidate);
  showShell();
  render();
});

els.toggle.addEventListener('click', () => {
  const shown = els.tokenInput.type === 'text';
  els.tokenInput.type = shown ? 'password' : 'text';
  els.toggle.textContent = shown ? 'Show' : 'Hide';
  els.toggle.setAttribute('aria-pressed', String(!shown));
});

els.signout.addEventListener('click', () => {
  token.clear();
  els.view.replaceChildren();
  showSignin();
});

// A token rotated while the page is open: ask again instead of failing every view.
whenRefused(() => {
  token.clear();
  showSignin('The admin token is no longer accepted (rotated?). Enter the current one.');
});

window.addEventListener('hashchange', () => render());

if (token.get()) {
  showShell();
  render();
} else showSignin();

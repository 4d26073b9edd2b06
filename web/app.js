// Longshot playground: plain ES module, no build step, no third-party code.
// The API key stays in this browser (localStorage) and is sent only to this origin's /api/v1.

import { requestEnvelope } from '/web/common/request.js';

const API = '/api/v1';
const KEY_STORE = 'longshot.apiKey';
const CHAIN_STORE = 'longshot.chain';
/** The service is local, so the playground polls faster than APIXO's 10 s advice. */
const POLL_MS = 2000;
const GENERATE_SECONDS = 8;
const EXTEND_SECONDS = 7;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const els = {
  keyForm: /** @type {HTMLFormElement} */ ($('key-form')),
  key: /** @type {HTMLInputElement} */ ($('api-key')),
  toggleKey: $('toggle-key'),
  forgetKey: $('forget-key'),
  balance: $('balance'),
  generateForm: /** @type {HTMLFormElement} */ ($('generate-form')),
  generate: /** @type {HTMLButtonElement} */ ($('generate')),
  prompt: /** @type {HTMLTextAreaElement} */ ($('prompt')),
  mode: /** @type {HTMLSelectElement} */ ($('mode')),
  seed: /** @type {HTMLInputElement} */ ($('seed')),
  status: $('task-status'),
  video: /** @type {HTMLVideoElement} */ ($('video')),
  stageEmpty: $('stage-empty'),
  extendForm: /** @type {HTMLFormElement} */ ($('extend-form')),
  extend: /** @type {HTMLButtonElement} */ ($('extend')),
  extendPrompt: /** @type {HTMLTextAreaElement} */ ($('extend-prompt')),
  extendMode: /** @type {HTMLSelectElement} */ ($('extend-mode')),
  timeline: $('timeline'),
  error: $('error'),
};

/**
 * @typedef {{ taskId: string, model: 'veo-3-1'|'veo-3-1-extend', prompt: string, mode: string,
 *   parentTaskId: string|null, state: string, startedAt: number, createTime?: number,
 *   costTime?: number, resultUrl?: string, posterUrl?: string, failCode?: string, failMsg?: string,
 *   deleted?: boolean, thumb?: string, thumbVideo?: boolean, dropped?: boolean, tracked?: boolean,
 *   depth?: number, row?: number, branch?: boolean }} Entry
 */

let apiKey = readStore(KEY_STORE) ?? '';
/**
 * The tree on display: a generation and every extension and branch of it, in tree order (each
 * task, then its extensions oldest first), as `arrange` lays it out. @type {Entry[]}
 */
let chain = [];
/** The task id of the entry on the stage, or null. */
let selectedId = null;
let ticker = 0;

class ApiError extends Error {
  constructor(status, message, data, retryAfterMs) {
    super(message);
    this.status = status;
    this.data = data;
    this.retryAfterMs = retryAfterMs;
  }
}

// ---------- the API ----------

async function api(method, path, body) {
  if (!apiKey) throw new ApiError(401, 'Paste an API key first.');
  let reply;
  try {
    reply = await requestEnvelope(method, API + path, apiKey, body);
  } catch {
    throw new ApiError(0, 'The server cannot be reached.');
  }
  const { res, env } = reply;
  if (reply.failed) {
    const message = env?.data?.error ?? env?.message ?? `HTTP ${res.status}`;
    const retryAfter = Number(res.headers.get('retry-after'));
    throw new ApiError(res.status, message, env?.data ?? null, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 0);
  }
  return env.data;
}

async function refreshBalance() {
  if (!apiKey) {
    els.balance.textContent = '—';
    return;
  }
  try {
    const usd = await api('GET', '/apikeys/current-balance');
    els.balance.textContent = `$${Number(usd).toFixed(2)}`;
  } catch (err) {
    els.balance.textContent = '—';
    showError(err);
  }
}

// ---------- tasks ----------

async function submitGenerate(event) {
  event.preventDefault();
  clearError();
  const prompt = els.prompt.value.trim();
  if (!prompt) return els.prompt.focus();
  const input = { prompt, mode: els.mode.value, aspect_ratio: formValue(els.generateForm, 'aspect') };
  if (els.seed.value !== '') input.seed = Number(els.seed.value);
  els.generate.disabled = true;
  try {
    const { taskId } = await api('POST', '/generateTask/veo-3-1', { request_type: 'async', input });
    for (const e of chain) e.dropped = true; // a new generation starts a new tree
    const entry = newEntry(taskId, 'veo-3-1', prompt, input.mode, null);
    chain = arrange([entry]);
    select(taskId);
    track(entry);
    refreshBalance();
  } catch (err) {
    showError(err);
  } finally {
    els.generate.disabled = false;
  }
}

async function submitExtend(event) {
  event.preventDefault();
  clearError();
  const source = current();
  const prompt = els.extendPrompt.value.trim();
  if (source?.state !== 'success') return;
  if (!prompt) return els.extendPrompt.focus();
  els.extend.disabled = true;
  try {
    const input = { taskId: source.taskId, prompt, mode: els.extendMode.value };
    const { taskId } = await api('POST', '/generateTask/veo-3-1-extend', { request_type: 'async', input });
    // Extending an entry that already has extensions starts a branch: a new row of the tree.
    const entry = newEntry(taskId, 'veo-3-1-extend', prompt, input.mode, source.taskId);
    chain = arrange([...chain, entry]);
    els.extendPrompt.value = '';
    select(taskId);
    track(entry);
    refreshBalance();
  } catch (err) {
    showError(err);
  } finally {
    updateControls();
  }
}

/** @returns {Entry} */
function newEntry(taskId, model, prompt, mode, parentTaskId) {
  return { taskId, model, prompt, mode, parentTaskId, state: 'pending', startedAt: Date.now() };
}

/** The entry on the stage. */
function current() {
  return chain.find((e) => e.taskId === selectedId);
}

/**
 * Lays the entries out as a tree, left to right: each task, then its extensions oldest first
 * (task ids are time-ordered). An entry's column is its depth; its first extension continues its
 * row and every further one (a branch) opens a new row below.
 * @param {Entry[]} entries
 */
function arrange(entries) {
  const ids = new Set(entries.map((e) => e.taskId));
  const children = new Map();
  const roots = [];
  for (const e of entries) {
    if (e.parentTaskId && ids.has(e.parentTaskId)) children.set(e.parentTaskId, [...(children.get(e.parentTaskId) ?? []), e]);
    else roots.push(e);
  }
  const out = [];
  let rows = 0;
  const visit = (e, depth, row, branch) => {
    Object.assign(e, { depth, row, branch });
    out.push(e);
    const kids = (children.get(e.taskId) ?? []).sort((a, b) => (a.taskId < b.taskId ? -1 : 1));
    for (const [i, k] of kids.entries()) visit(k, depth + 1, i === 0 ? row : rows++, i > 0);
  };
  for (const r of roots) visit(r, 0, rows++, false);
  return out;
}

/**
 * Reads the whole tree from the lineage route (a Longshot addition) and merges it in, so branches
 * made elsewhere (another tab, the CLI) show too. A server without the route (APIXO) keeps the
 * tree this page built from its own submits.
 */
async function refreshTree() {
  const anchor = chain[0];
  if (!anchor) return;
  let tree;
  try {
    tree = await api('GET', `/tasks/${encodeURIComponent(anchor.taskId)}/lineage`);
  } catch {
    return;
  }
  if (chain[0] !== anchor || !Array.isArray(tree?.nodes)) return; // a new generation started meanwhile
  const known = new Map(chain.map((e) => [e.taskId, e]));
  const listed = new Set();
  const merged = [];
  for (const n of tree.nodes) {
    listed.add(n.taskId);
    if (n.hidden) continue; // the key may not read it
    const e = known.get(n.taskId) ?? newEntry(n.taskId, n.model, n.prompt ?? '', n.mode ?? '', n.parentTaskId);
    applyNode(e, n);
    merged.push(e);
  }
  for (const e of chain) if (!listed.has(e.taskId)) merged.push(e);
  chain = arrange(merged);
  for (const e of chain) if (!e.tracked && e.state !== 'success' && e.state !== 'failed') track(e);
  save();
  render();
}

/** A lineage node's fields, in the entry's terms. */
function applyNode(entry, n) {
  entry.parentTaskId = n.parentTaskId;
  if (n.prompt !== null) entry.prompt = n.prompt;
  if (n.mode !== null) entry.mode = n.mode;
  // States only move forward: a lineage read never takes back what a newer status poll said.
  if (n.state && entry.state !== 'success' && entry.state !== 'failed') entry.state = n.state;
  entry.createTime = n.createdAt;
  entry.deleted = n.deleted === true;
  if (n.state === 'success') {
    entry.costTime = n.completedAt - n.createdAt;
    entry.resultUrl = n.videoUrl ?? undefined;
    entry.posterUrl = n.posterUrl ?? undefined;
  } else if (n.state === 'failed') {
    entry.failCode = n.failCode ?? undefined;
  }
}

/** Polls one task every 2 s until it is final (or leaves the display). */
async function track(entry) {
  entry.tracked = true;
  save();
  for (;;) {
    if (entry.dropped) return;
    try {
      const data = await api('GET', `/statusTask/${entry.model}?taskId=${encodeURIComponent(entry.taskId)}`);
      if (entry.dropped) return;
      applyStatus(entry, data);
      render();
      if (entry.state === 'success' || entry.state === 'failed') {
        refreshBalance();
        save();
        refreshTree();
        return;
      }
      await sleep(POLL_MS);
    } catch (err) {
      if (entry.dropped) return;
      // Rate limits and server hiccups pass; anything else stops this task's polling.
      if (err.status === 429 || err.status === 0 || err.status >= 500) {
        await sleep(Math.max(err.retryAfterMs || 0, POLL_MS));
        continue;
      }
      if (err.status === 404) entry.state = 'unknown';
      showError(err);
      render();
      return;
    }
  }
}

function applyStatus(entry, data) {
  entry.state = data.state;
  entry.createTime = data.createTime;
  entry.deleted = typeof data.deletedAt === 'number';
  if (data.state === 'success') {
    entry.costTime = data.costTime;
    try {
      entry.resultUrl = JSON.parse(data.resultJson).resultUrls[0];
    } catch {
      entry.resultUrl = undefined;
    }
    // Longshot signs a poster URL; other servers may not, then a frame is grabbed from the video.
    entry.posterUrl = typeof data.posterUrl === 'string' ? data.posterUrl : undefined;
  } else if (data.state === 'failed') {
    entry.failCode = data.failCode;
    entry.failMsg = data.failMsg;
  }
}

// ---------- display ----------

function select(taskId) {
  selectedId = taskId;
  const entry = current();
  const video = els.video;
  if (entry?.state === 'success' && entry.resultUrl) {
    if (video.dataset.taskId !== entry.taskId) {
      video.dataset.taskId = entry.taskId;
      video.poster = entry.posterUrl ?? '';
      video.preload = 'auto';
      video.src = entry.resultUrl;
    }
    video.hidden = false;
    els.stageEmpty.hidden = true;
  } else {
    video.removeAttribute('src');
    delete video.dataset.taskId;
    video.load();
    video.hidden = true;
    els.stageEmpty.hidden = false;
    els.stageEmpty.textContent = entry ? 'Rendering… the video will play here when it is ready.' : 'Your video will play here.';
  }
  render();
}

function render() {
  renderStatus();
  renderTimeline();
  updateControls();
  const shown = current();
  if (shown?.state === 'success' && shown.resultUrl && els.video.dataset.taskId !== shown.taskId) select(shown.taskId);
}

function renderStatus() {
  const entry = current();
  const el = els.status;
  if (!entry) {
    el.dataset.state = 'idle';
    el.textContent = 'No task yet.';
    return;
  }
  el.dataset.state = entry.state;
  const what = entry.model === 'veo-3-1' ? 'Generation' : 'Extension';
  const id = `task ${entry.taskId.slice(0, 8)}…`;
  if (entry.state === 'success') {
    el.textContent = `${what} succeeded in ${formatElapsed(entry.costTime ?? 0)} · ${id}`;
  } else if (entry.state === 'failed') {
    el.textContent = `${what} failed: ${entry.failCode ?? 'UNKNOWN'}${entry.failMsg ? ` — ${entry.failMsg}` : ''} · ${id}`;
  } else if (entry.state === 'unknown') {
    el.textContent = `This server does not know ${id} (another key or server?).`;
  } else {
    el.textContent = `${what} ${entry.state} · ${formatElapsed(Date.now() - entry.startedAt)} · ${id}`;
  }
  // A one-second ticker keeps the elapsed time moving without re-announcing it to screen readers each second.
  const running = entry.state === 'pending' || entry.state === 'processing';
  el.setAttribute('aria-live', running ? 'off' : 'polite');
  if (running && !ticker) ticker = window.setInterval(renderStatus, 1000);
  if (!running && ticker) {
    clearInterval(ticker);
    ticker = 0;
  }
}

function renderTimeline() {
  // Items are kept per task and updated in place, so polling never steals keyboard focus.
  const list = els.timeline;
  const existing = new Map([...list.children].map((li) => [li.dataset.taskId, li]));
  const position = new Map(chain.map((e, i) => [e.taskId, i + 1]));
  const items = chain.map((entry, i) => {
    let li = existing.get(entry.taskId);
    if (!li) {
      li = document.createElement('li');
      li.dataset.taskId = entry.taskId;
      li.innerHTML =
        '<button type="button" class="clip"><span class="thumb"></span>' +
        '<span class="meta"><span class="title"></span><span class="prompt"></span><span class="badge"></span></span></button>';
      li.querySelector('button').addEventListener('click', () => select(entry.taskId));
    }
    // The tree as a grid: the column is the depth (the video's length), each branch a row.
    const depth = entry.depth ?? 0;
    li.style.gridColumn = String(depth + 1);
    li.style.gridRow = String((entry.row ?? 0) + 1);
    li.dataset.depth = String(depth);
    li.dataset.parent = entry.parentTaskId ?? '';
    if (entry.branch) li.dataset.branch = 'true';
    else delete li.dataset.branch;
    const button = li.querySelector('button');
    const seconds = GENERATE_SECONDS + EXTEND_SECONDS * depth;
    const title = depth === 0 ? 'Generate' : `Extend ${depth}`;
    const from =
      entry.parentTaskId && position.has(entry.parentTaskId) ? `, ${entry.branch ? 'a branch' : 'continuing'} from ${position.get(entry.parentTaskId)}` : '';
    const state = entry.deleted ? 'deleted' : entry.state;
    button.dataset.state = entry.state;
    button.setAttribute('aria-pressed', String(entry.taskId === selectedId));
    button.setAttribute('aria-label', `${i + 1}, ${title}${from}, ${seconds} s, ${state}: ${entry.prompt}`);
    li.querySelector('.title').textContent = `${i + 1} · ${title} · ${seconds} s`;
    li.querySelector('.prompt').textContent = entry.prompt;
    const badge = li.querySelector('.badge');
    badge.dataset.state = state;
    badge.textContent = entry.state === 'failed' ? `failed · ${entry.failCode ?? ''}` : state;
    const thumb = li.querySelector('.thumb');
    const key = thumbKey(entry);
    if (thumb.dataset.key !== key) {
      thumb.dataset.key = key;
      thumb.replaceChildren(thumbnail(entry));
    }
    return li;
  });
  items.forEach((li, i) => {
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] ?? null);
  });
  while (list.children.length > items.length) list.lastElementChild.remove();
}

function thumbKey(entry) {
  if (entry.state !== 'success' || !entry.resultUrl) return entry.state === 'failed' || entry.deleted ? 'failed' : 'busy';
  return entry.posterUrl ? 'poster' : entry.thumb ? 'grab' : entry.thumbVideo ? 'video' : 'grabbing';
}

/** The entry's picture: the signed poster, else a grabbed last frame, else the video itself. */
function thumbnail(entry) {
  if (entry.state !== 'success' || !entry.resultUrl) {
    const s = document.createElement('span');
    s.className = entry.state === 'failed' || entry.deleted ? 'placeholder failed' : 'placeholder busy';
    s.setAttribute('aria-hidden', 'true');
    return s;
  }
  const src = entry.posterUrl ?? entry.thumb;
  if (src) {
    const img = document.createElement('img');
    img.src = src;
    img.alt = '';
    img.decoding = 'async';
    img.loading = 'lazy';
    img.addEventListener(
      'error',
      () => {
        // An unreadable poster (expired, or a server without posters): grab a frame instead.
        if (entry.posterUrl === src) entry.posterUrl = undefined;
        else entry.thumbVideo = true;
        entry.thumb = undefined;
        renderTimeline();
      },
      { once: true },
    );
    return img;
  }
  if (entry.thumbVideo) {
    const v = document.createElement('video');
    v.src = entry.resultUrl;
    v.preload = 'metadata';
    v.muted = true;
    v.setAttribute('aria-hidden', 'true');
    return v;
  }
  grabLastFrame(entry.resultUrl).then((dataUrl) => {
    if (dataUrl) entry.thumb = dataUrl;
    else entry.thumbVideo = true;
    renderTimeline();
  });
  const s = document.createElement('span');
  s.className = 'placeholder busy';
  s.setAttribute('aria-hidden', 'true');
  return s;
}

/** Draws the video's last frame to a canvas; null if the video is another origin's (tainted) or unreadable. */
function grabLastFrame(url) {
  return new Promise((resolve) => {
    const v = document.createElement('video');
    v.muted = true;
    v.preload = 'auto';
    const done = (value) => {
      v.removeAttribute('src');
      v.load();
      resolve(value);
    };
    v.addEventListener('error', () => done(null), { once: true });
    v.addEventListener(
      'loadedmetadata',
      () => {
        v.currentTime = Math.max(0, v.duration - 0.05);
      },
      { once: true },
    );
    v.addEventListener(
      'seeked',
      () => {
        try {
          const canvas = document.createElement('canvas');
          canvas.width = 320;
          canvas.height = Math.round((320 * v.videoHeight) / Math.max(1, v.videoWidth));
          canvas.getContext('2d').drawImage(v, 0, 0, canvas.width, canvas.height);
          done(canvas.toDataURL('image/jpeg', 0.8));
        } catch {
          done(null);
        }
      },
      { once: true },
    );
    v.src = url;
  });
}

function updateControls() {
  const source = current();
  els.extend.disabled = !(source && source.state === 'success' && !source.deleted);
  els.extend.title = els.extend.disabled ? 'Select a finished video to extend' : '';
}

function showError(err) {
  let text = err?.message ?? String(err);
  if (err?.status === 401) text = `The API key was refused: ${text}`;
  else if (err?.status === 402) text = `Not enough balance: ${text}`;
  else if (err?.status === 429) text = `Rate limited: ${text}`;
  else if (err?.status >= 400 && err?.data?.field) text = `${text} (${err.data.field})`;
  els.error.textContent = text;
  els.error.hidden = false;
}

function clearError() {
  els.error.hidden = true;
  els.error.textContent = '';
}

// ---------- storage and startup ----------

function save() {
  const slim = chain.map(({ taskId, model, prompt, mode, parentTaskId }) => ({ taskId, model, prompt, mode, parentTaskId, selected: taskId === selectedId }));
  writeStore(CHAIN_STORE, JSON.stringify(slim));
}

async function restore() {
  let saved = [];
  try {
    saved = JSON.parse(readStore(CHAIN_STORE) ?? '[]');
  } catch {
    saved = [];
  }
  if (!Array.isArray(saved) || !apiKey) return;
  const valid = saved.filter((e) => e && typeof e.taskId === 'string' && (e.model === 'veo-3-1' || e.model === 'veo-3-1-extend'));
  chain = arrange(
    valid.map((e) => ({
      ...newEntry(e.taskId, e.model, String(e.prompt ?? ''), String(e.mode ?? ''), typeof e.parentTaskId === 'string' ? e.parentTaskId : null),
      state: 'loading',
    })),
  );
  if (chain.length === 0) return;
  selectedId = (valid.find((e) => e.selected === true) ?? valid[valid.length - 1]).taskId;
  render();
  // Result URLs are signed for 24 h from each status read: read them fresh.
  for (const entry of chain) track(entry);
  refreshTree();
}

function readStore(name) {
  try {
    return localStorage.getItem(name);
  } catch {
    return null;
  }
}

function writeStore(name, value) {
  try {
    if (value === null) localStorage.removeItem(name);
    else localStorage.setItem(name, value);
  } catch {
    // private mode or storage disabled: the page still works for this visit
  }
}

function formValue(form, name) {
  return /** @type {HTMLInputElement|null} */ (form.querySelector(`input[name="${name}"]:checked`))?.value;
}

function formatElapsed(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

els.key.value = apiKey;
els.keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  clearError();
  apiKey = els.key.value.trim();
  writeStore(KEY_STORE, apiKey || null);
  refreshBalance();
});
els.forgetKey.addEventListener('click', () => {
  apiKey = '';
  els.key.value = '';
  writeStore(KEY_STORE, null);
  writeStore(CHAIN_STORE, null);
  for (const e of chain) e.dropped = true;
  chain = [];
  select(null);
  refreshBalance();
});
els.toggleKey.addEventListener('click', () => {
  const show = els.key.type === 'password';
  els.key.type = show ? 'text' : 'password';
  els.toggleKey.textContent = show ? 'Hide' : 'Show';
  els.toggleKey.setAttribute('aria-pressed', String(show));
});
els.generateForm.addEventListener('submit', submitGenerate);
els.extendForm.addEventListener('submit', submitExtend);
els.timeline.addEventListener('keydown', (event) => {
  // Arrow keys move through the timeline in tree order (each task, then its extensions) like a toolbar.
  if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft' && event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
  const next = chain.findIndex((e) => e.taskId === selectedId) + (event.key === 'ArrowRight' || event.key === 'ArrowDown' ? 1 : -1);
  if (next < 0 || next >= chain.length) return;
  event.preventDefault();
  select(chain[next].taskId);
  /** @type {HTMLElement|null} */ (els.timeline.querySelectorAll('button')[next])?.focus();
});

render();
refreshBalance();
restore();

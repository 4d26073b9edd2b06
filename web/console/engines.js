// The engine health table (`longshot engines`): whether each engine takes work, why not, and
// what fixes it.
import { admin } from './api.js';
import { badge, card, dash, duration, empty, errorBox, fill, h, isoTime, loading, table } from './dom.js';

function standing(e) {
  if (!e.available) return badge('unavailable', 'bad');
  if (e.breakerOpenUntil) return badge('breaker open', 'warn');
  return badge('available', 'ok');
}

function lastHour(e) {
  const { runs, successRate, p50LatencyMs } = e.lastHour;
  if (!runs) return 'no runs';
  return `${runs} run${runs === 1 ? '' : 's'} · ${Math.round(successRate * 100)}% ok · p50 ${duration(p50LatencyMs)}`;
}

export async function enginesView(root) {
  const list = h('div', null, loading('engines'));
  const refresh = h('button', { type: 'button', class: 'ghost', id: 'refresh-engines' }, 'Refresh');
  fill(
    root,
    h(
      'div',
      { class: 'view-head row between' },
      h(
        'div',
        null,
        h('h1', null, 'Engines'),
        h('p', { class: 'hint' }, 'As the workers last stored it; ', h('code', null, 'longshot engines --check'), ' runs the model checks now.'),
      ),
      refresh,
    ),
    card(null, list),
  );
  refresh.addEventListener('click', () => enginesView(root));
  let engines;
  try {
    engines = (await admin('GET', '/engines')).engines;
  } catch (err) {
    return fill(list, errorBox(err));
  }
  if (engines.length === 0) return fill(list, empty('No engines configured.', 'Set LONGSHOT_ENGINES (docs/operations.md).'));
  fill(
    list,
    table(
      [
        { label: 'Engine', cell: (e) => h('strong', null, e.engine) },
        { label: 'Type', cell: (e) => e.type },
        { label: 'Status', cell: standing },
        { label: 'Routes', cell: (e) => (e.routes.length ? e.routes.join(', ') : 'none') },
        { label: 'Models', cell: (e) => dash(e.models) },
        { label: 'Reason', cell: (e) => dash(e.reason) },
        { label: 'Fix', cell: (e) => dash(e.fix) },
        { label: 'Last hour', cell: lastHour },
        {
          label: 'Last error',
          cell: (e) => (e.lastError ? h('span', null, e.lastError, h('br'), h('span', { class: 'hint' }, isoTime(e.lastErrorAt))) : '—'),
        },
        { label: 'Breaker open until', cell: (e) => (e.breakerOpenUntil ? isoTime(e.breakerOpenUntil) : '—') },
        { label: 'Last check', cell: (e) => (e.checkedAt ? isoTime(e.checkedAt) : 'never') },
        { label: 'Reported by', cell: (e) => dash(e.reportedBy) },
      ],
      engines,
      { label: 'Engines' },
    ),
  );
}

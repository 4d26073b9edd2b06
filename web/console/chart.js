// Stacked bars per day as inline SVG, drawn here (no chart library): one bar per day, one segment
// per series, y axis with round ticks, x axis with dates, a <title> on each segment, a legend.
import { h, s } from './dom.js';

const W = 900;
const H = 240;
const M = { top: 14, right: 12, bottom: 44, left: 64 };
/** Distinguishable in light and dark themes; a series keeps its color across both charts. */
export const PALETTE = ['#3f5bd9', '#1f9d61', '#d9822b', '#b54fc4', '#1a9fb5', '#c9483c', '#7a8a1f', '#8a6d5a'];

function niceStep(raw, integer) {
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  return integer ? Math.max(1, Math.round(step)) : step;
}

/**
 * `days`: 'YYYY-MM-DD' in order; `series`: `{key, label, color}`; `value(day, key)` a number;
 * `tick(n)` and `exact(n)` format an axis label and a tooltip; `integer` when counts.
 */
export function stackedBars({ id, title, yLabel, days, series, value, tick, exact, integer }) {
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const totals = days.map((d) => series.reduce((sum, se) => sum + value(d, se.key), 0));
  const max = Math.max(0, ...totals);
  const step = niceStep(max > 0 ? max / 4 : 1, integer);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const y = (v) => M.top + plotH - (v / top) * plotH;
  const band = plotW / Math.max(1, days.length);
  const barW = Math.max(2, Math.min(48, band * 0.7));

  const grid = [];
  for (let v = 0; v <= top + step / 2; v += step) {
    grid.push(
      s('line', { class: v === 0 ? 'axis' : 'grid', x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }),
      s('text', { class: 'tick', x: M.left - 8, y: y(v) + 4, 'text-anchor': 'end' }, tick(v)),
    );
  }
  // About ten date labels whatever the range, always the last day.
  const every = Math.max(1, Math.ceil(days.length / 10));
  const labels = days
    .map((d, i) => [d, i])
    .filter(([, i]) => i % every === 0 || i === days.length - 1)
    .map(([d, i]) => s('text', { class: 'tick', x: M.left + band * (i + 0.5), y: H - M.bottom + 18, 'text-anchor': 'middle' }, d.slice(5)));

  const bars = [];
  days.forEach((d, i) => {
    let base = 0;
    for (const se of series) {
      const v = value(d, se.key);
      if (v <= 0) continue;
      bars.push(
        s(
          'rect',
          {
            class: 'bar',
            x: M.left + band * i + (band - barW) / 2,
            y: y(base + v),
            width: barW,
            height: Math.max(1, y(base) - y(base + v)),
            fill: se.color,
            dataset: { day: d, series: se.key },
          },
          s('title', null, `${d} · ${se.label}: ${exact(v)}`),
        ),
      );
      base += v;
    }
  });

  const svg = s(
    'svg',
    { id, class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${title}, ${days[0]} to ${days[days.length - 1]}` },
    grid,
    labels,
    bars,
    s('text', { class: 'axis-label', x: M.left + plotW / 2, y: H - 6, 'text-anchor': 'middle' }, 'Day (UTC)'),
    s('text', { class: 'axis-label', x: 14, y: M.top + plotH / 2, 'text-anchor': 'middle', transform: `rotate(-90 14 ${M.top + plotH / 2})` }, yLabel),
  );
  return h('figure', { class: 'chart-figure' }, h('figcaption', null, title), svg);
}

export function legend(series) {
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'Legend' },
    series.map((se) =>
      h(
        'li',
        null,
        s('svg', { width: 12, height: 12, viewBox: '0 0 12 12', 'aria-hidden': 'true' }, s('rect', { width: 12, height: 12, rx: 2, fill: se.color })),
        se.label,
      ),
    ),
  );
}

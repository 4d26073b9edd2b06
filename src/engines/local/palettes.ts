import { num } from './prng.js';

/**
 * Colour gradients for the procedural scenes. A palette maps the plasma field (0..1) to a colour
 * through five stops; the lookup becomes a per-channel LUT (`lutrgb`), so its cost is nil.
 */

export type MoodName = 'warm' | 'fire' | 'night' | 'ocean' | 'forest' | 'snow' | 'neon' | 'dream';

export type Rgb = readonly [number, number, number];

/** Five colour stops at {@link STOP_POSITIONS}. */
export interface Palette {
  stops: readonly [Rgb, Rgb, Rgb, Rgb, Rgb];
}

const STOP_POSITIONS = [0, 0.28, 0.52, 0.76, 1] as const;

function hex(h: string): Rgb {
  const n = Number.parseInt(h.replace('#', ''), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function palette(...hexes: [string, string, string, string, string]): Palette {
  return { stops: [hex(hexes[0]), hex(hexes[1]), hex(hexes[2]), hex(hexes[3]), hex(hexes[4])] };
}

export const MOOD_PALETTES: Record<MoodName, Palette> = {
  warm: palette('#2a0f3d', '#7a1f55', '#d2474a', '#f39044', '#ffd98a'),
  fire: palette('#1a0400', '#6b1200', '#c13200', '#f57a0a', '#ffe07a'),
  night: palette('#010208', '#050c24', '#0e1f4a', '#1d3a72', '#6f86c4'),
  ocean: palette('#02162b', '#053f73', '#0b74a8', '#2eb0cf', '#b4ecf4'),
  forest: palette('#06150b', '#174220', '#33732f', '#75a23c', '#cfe08f'),
  snow: palette('#5f7189', '#9fb4c9', '#cddcea', '#eaf2f9', '#ffffff'),
  neon: palette('#0b0221', '#3a0ca3', '#b5179e', '#f72585', '#4cc9f0'),
  dream: palette('#3d2c5e', '#8e6bb0', '#e2a3c7', '#f7d1dc', '#fff3e8'),
};

/** Weighted average of palettes, stop by stop. */
export function blendPalettes(items: ReadonlyArray<{ palette: Palette; weight: number }>): Palette {
  const total = items.reduce((s, i) => s + i.weight, 0);
  const stop = (k: number): Rgb => {
    const c = [0, 0, 0];
    for (const { palette: p, weight } of items) {
      const s = p.stops[k] as Rgb;
      for (let ch = 0; ch < 3; ch++) c[ch] = (c[ch] ?? 0) + ((s[ch] ?? 0) * weight) / total;
    }
    return [Math.round(c[0] ?? 0), Math.round(c[1] ?? 0), Math.round(c[2] ?? 0)];
  };
  return { stops: [stop(0), stop(1), stop(2), stop(3), stop(4)] };
}

function hslToRgb(h: number, s: number, l: number): Rgb {
  const hue = (((h % 360) + 360) % 360) / 360;
  const q = l < 0.5 ? l * (1 + s) : l + s - l * s;
  const p = 2 * l - q;
  const channel = (t0: number): number => {
    let t = t0;
    if (t < 0) t += 1;
    if (t > 1) t -= 1;
    if (t < 1 / 6) return p + (q - p) * 6 * t;
    if (t < 1 / 2) return q;
    if (t < 2 / 3) return p + (q - p) * (2 / 3 - t) * 6;
    return p;
  };
  return [Math.round(channel(hue + 1 / 3) * 255), Math.round(channel(hue) * 255), Math.round(channel(hue - 1 / 3) * 255)];
}

/** A gradient that walks the hue wheel from `hue` by `hueStep` per stop, dark to light. */
export function hslPalette(hue: number, hueStep: number, saturation: number): Palette {
  const lights = [0.1, 0.28, 0.46, 0.64, 0.84];
  const stop = (k: number): Rgb => hslToRgb(hue + hueStep * k, saturation, lights[k] ?? 0.5);
  return { stops: [stop(0), stop(1), stop(2), stop(3), stop(4)] };
}

/** The colour at position `t` (0..1) of a palette, by linear interpolation between stops. */
export function paletteAt(p: Palette, t: number): Rgb {
  const x = Math.min(1, Math.max(0, t));
  for (let k = 1; k < STOP_POSITIONS.length; k++) {
    const hi = STOP_POSITIONS[k] as number;
    if (x <= hi || k === STOP_POSITIONS.length - 1) {
      const lo = STOP_POSITIONS[k - 1] as number;
      const f = (x - lo) / (hi - lo);
      const a = p.stops[k - 1] as Rgb;
      const b = p.stops[k] as Rgb;
      return [0, 1, 2].map((ch) => Math.round((a[ch] ?? 0) + ((b[ch] ?? 0) - (a[ch] ?? 0)) * f)) as unknown as Rgb;
    }
  }
  return p.stops[4];
}

/**
 * A `lutrgb` expression for one channel: `val` (0..255, the field) → the palette's channel,
 * times `gain`. Piecewise linear through the stops, written with nested `if`s.
 */
export function paletteLutExpr(p: Palette, channel: 0 | 1 | 2, gain: number): string {
  const pts = STOP_POSITIONS.map((pos, k) => ({ x: pos * 255, y: ((p.stops[k] as Rgb)[channel] ?? 0) * gain }));
  let expr = num(pts[pts.length - 1]?.y ?? 0, 2);
  for (let k = pts.length - 1; k >= 1; k--) {
    const a = pts[k - 1];
    const b = pts[k];
    if (!a || !b) continue;
    const slope = (b.y - a.y) / (b.x - a.x);
    const seg = `${num(a.y, 3)}+(val-${num(a.x, 3)})*${num(slope, 5)}`;
    expr = `if(lt(val,${num(b.x, 3)}),${seg},${expr})`;
  }
  return `clip(${expr},0,255)`;
}

import { type GraphBuilder, opts, q } from './graph.js';
import { paletteLutExpr } from './palettes.js';
import { num } from './prng.js';
import type { SceneLook } from './scene.js';

/**
 * The procedural scene: a plasma field computed with `geq` at a small size (geq evaluates an
 * expression per pixel, single-threaded, so it must stay small), coloured through the mood's
 * palette, graded (hue swing, beat pulse, vignette) while still small, then scaled up smoothly.
 * Soft glowing orbs drift over it at full resolution.
 */

export interface Frame {
  width: number;
  height: number;
  fps: number;
  /** Number of frames to produce. */
  frames: number;
}

/** Seconds of the clip. */
function seconds(frame: Frame): number {
  return frame.frames / frame.fps;
}

/**
 * The small size the field is computed at: longest side 96, even, same aspect. The field is
 * smooth (its shortest wavelength is about a quarter of the frame), so this loses nothing
 * that the smooth upscale would keep, and it keeps `geq` under a second for 8 s.
 */
export function fieldSize(frame: Frame, longest = 96): { w: number; h: number } {
  const even = (n: number): number => Math.max(2, 2 * Math.round(n / 2));
  return frame.width >= frame.height
    ? { w: longest, h: even((longest * frame.height) / frame.width) }
    : { w: even((longest * frame.width) / frame.height), h: longest };
}

/**
 * The per-pixel field expression (0..255) for `geq`, with time `T + offset`. Coefficients are
 * folded into pixel units so each term costs few operations (geq evaluates it per pixel).
 */
function fieldExpr(look: SceneLook, w: number, h: number, timeOffset: number): string {
  const m = Math.min(w, h);
  const t = timeOffset === 0 ? 'T' : `(T+${num(timeOffset)})`;
  const s = look.speed;
  const terms = look.waves.map((wv) => `${num(wv.amp, 3)}*sin(${num(wv.kx / m, 5)}*X+${num(wv.ky / m, 5)}*Y+${num(wv.omega * s)}*${t}+${num(wv.phase)})`);
  const r = look.ring;
  const cx = `${num(r.cx * w, 2)}+${num(r.rx * m, 2)}*sin(${num(r.rate * s)}*${t})`;
  const cy = `${num(r.cy * h, 2)}+${num(r.ry * m, 2)}*cos(${num(r.rate * s * 1.3)}*${t})`;
  terms.push(`${num(r.amp, 3)}*sin(${num(r.freq / m, 5)}*hypot(X-${cx},Y-${cy})-${num(r.omega * s)}*${t})`);
  const norm = look.waves.reduce((acc, wv) => acc + wv.amp, 0) + r.amp;
  // Spread the (bell-shaped) sum over the palette, then tilt it vertically like a sky.
  const field = `${num(0.5 + (look.skyGradient * h) / (2 * m))}+${num(0.75 / norm)}*(${terms.join('+')})-${num(look.skyGradient / m, 6)}*Y`;
  return `255*clip(${field},0,1)`;
}

/** Options for {@link addPlasma}. */
export interface PlasmaOptions {
  /** Seconds added to the clock (a continuation keeps the motion going). */
  timeOffset?: number;
  /** Fade the layer in from transparent to `maxAlpha` over the clip (yuva420p output). */
  fadeIn?: { maxAlpha: number };
  /** Blend a blurred still (its label) into the field colours at this weight. */
  tintFrom?: { label: string; weight: number };
  /** Longest side of the computed field (default 96; see {@link fieldSize}). */
  fieldLongest?: number;
}

/** Adds the plasma chain; returns the label of a `frame`-sized yuv420p (or yuva420p) stream. */
export function addPlasma(g: GraphBuilder, look: SceneLook, frame: Frame, options: PlasmaOptions = {}): string {
  const { w, h } = fieldSize(frame, options.fieldLongest);
  const offset = options.timeOffset ?? 0;
  const gain = look.brightness;
  // Whole degrees: `hue` rebuilds its 256×256 chroma table only when the angle changes, which
  // otherwise is every frame (its costliest part by far); a 1° step is invisible.
  const hueExpr = `round(${num(look.hueOffset, 2)}+${num(look.hueSwing, 2)}*sin(${num((2 * Math.PI) / 17)}*(t+${num(offset)})))`;
  const pulse = `${num(look.pulseDepth)}*pow(0.5+0.5*cos(${num(2 * Math.PI * look.pulseHz)}*(t+${num(offset)})),6)`;

  let field = g.source([
    `nullsrc=${opts({ s: `${w}x${h}`, r: frame.fps })}`,
    `trim=${opts({ end_frame: frame.frames })}`,
    'format=gray',
    `geq=${opts({ lum: q(fieldExpr(look, w, h, offset)) })}`,
    'format=rgb24',
    `lutrgb=${opts({ r: q(paletteLutExpr(look.palette, 0, gain)), g: q(paletteLutExpr(look.palette, 1, gain)), b: q(paletteLutExpr(look.palette, 2, gain)) })}`,
  ]);
  if (options.tintFrom) {
    // Mix a blurred still into the colours while everything is still small (cheap).
    const tint = g.chain(options.tintFrom.label, [`scale=${w}:${h}`, 'format=rgb24', 'boxblur=6:2']);
    field = g.chain([field, tint], [`blend=${opts({ all_mode: 'normal', all_opacity: num(options.tintFrom.weight) })}`]);
  }
  const graded = g.chain(field, [
    `scale=${opts({ w, h, out_color_matrix: 'bt709', out_range: 'tv' })}`,
    'format=yuv444p',
    `hue=${opts({ h: q(hueExpr) })}`,
    `eq=${opts({ brightness: q(pulse), eval: 'frame' })}`,
    'vignette=angle=0.55',
  ]);
  if (!options.fadeIn) {
    return g.chain(graded, [`scale=${opts({ w: frame.width, h: frame.height, flags: 'bicubic' })}`, 'format=yuv420p', 'setsar=1']);
  }
  return g.chain(graded, [
    'format=yuva444p',
    `lut=${opts({ a: num(255 * options.fadeIn.maxAlpha, 1) })}`,
    `fade=${opts({ t: 'in', st: 0, d: num(seconds(frame)), alpha: 1 })}`,
    `scale=${opts({ w: frame.width, h: frame.height, flags: 'bicubic' })}`,
    'format=yuva420p',
    'setsar=1',
  ]);
}

const SPRITE = 128;

/** Options for {@link addOrbs}. */
export interface OrbOptions {
  timeOffset?: number;
  /** Fade each orb in from nothing over the clip. */
  fadeIn?: boolean;
  /** Keep at most this many orbs. */
  limit?: number;
}

/** Overlays the look's orbs on `base`; returns the new label. */
export function addOrbs(g: GraphBuilder, look: SceneLook, frame: Frame, base: string, options: OrbOptions = {}): string {
  const orbs = look.orbs.slice(0, options.limit ?? look.orbs.length);
  if (orbs.length === 0) return base;
  const offset = options.timeOffset ?? 0;
  const half = SPRITE / 2;
  // A soft disc (super-Gaussian falloff), computed once and looped.
  const alpha = `255*exp(-3*pow(hypot(X-${half},Y-${half})/${num(half * 0.86)},4))`;
  const spriteOut = orbs.map(() => g.label('orb'));
  g.source(
    [
      `color=${opts({ c: 'white', s: `${SPRITE}x${SPRITE}`, r: frame.fps })}`,
      'trim=end_frame=1',
      'format=rgba',
      `geq=${opts({ r: 255, g: 255, b: 255, a: q(alpha) })}`,
      `split=${orbs.length}`,
    ],
    spriteOut.join(''),
  );
  const short = Math.min(frame.width, frame.height);
  let current = base;
  orbs.forEach((orb, i) => {
    const d = Math.max(8, 2 * Math.round((orb.size * short) / 2));
    const [r, gr, b] = orb.color;
    const filters = [
      `scale=${d}:${d}`,
      `lutrgb=${opts({ r: Math.round(r * Math.min(1, look.brightness + 0.2)), g: Math.round(gr * Math.min(1, look.brightness + 0.2)), b: Math.round(b * Math.min(1, look.brightness + 0.2)), a: q(`val*${num(orb.opacity)}`) })}`,
      'format=yuva420p',
      `loop=${opts({ loop: frame.frames - 1, size: 1, start: 0 })}`,
      `setpts=N/(${frame.fps}*TB)`,
    ];
    if (options.fadeIn) filters.push(`fade=${opts({ t: 'in', st: 0, d: num(seconds(frame)), alpha: 1 })}`);
    const sprite = g.chain(spriteOut[i] as string, filters);
    const tt = `(t+${num(offset)})`;
    const x = `${num(frame.width * orb.cx)}+${num(frame.width * orb.ax)}*sin(${num(2 * Math.PI * orb.fx * look.speed)}*${tt}+${num(orb.px)})-w/2`;
    const y = `${num(frame.height * orb.cy)}+${num(frame.height * orb.ay)}*sin(${num(2 * Math.PI * orb.fy * look.speed)}*${tt}+${num(orb.py)})-h/2`;
    current = g.chain([current, sprite], [`overlay=${opts({ x: q(x), y: q(y), eval: 'frame', format: 'yuv420' })}`]);
  });
  return current;
}

import { type GraphBuilder, opts, q } from './graph.js';
import { num } from './prng.js';
import type { AudioLook } from './scene.js';

/**
 * The sound of a scene: a soft chord (one sine per tone, each with a slow wobble), a gentle bass
 * pulse on the scene's beat, and a bed of filtered noise (surf, wind, room tone) that swells.
 * Everything is a function of absolute time, so it is sample-exact and deterministic.
 */

export const SAMPLE_RATE = 48000;

const TONE_LEVELS = [0.2, 0.15, 0.12, 0.09];

/** The `aevalsrc` expression of one channel. `ratio` detunes the right channel. */
function channelExpr(a: AudioLook, ratio: number, timeOffset: number): string {
  const t = timeOffset === 0 ? 't' : `(t+${num(timeOffset)})`;
  const parts = a.tones.map((f, i) => {
    const level = TONE_LEVELS[i] ?? 0.04;
    const phase = a.phases[i] ?? 0;
    const wobble = a.wobbleHz[i] ?? 0.1;
    return `${num(level)}*sin(${num(2 * Math.PI * f * ratio, 3)}*${t}+${num(phase)})*(0.7+0.3*sin(${num(2 * Math.PI * wobble)}*${t}+${num(phase * 1.7)}))`;
  });
  if (a.pulseHz > 0 && a.pulseLevel > 0) {
    const period = 1 / a.pulseHz;
    // Phase within the beat; a 12 ms attack and a decay that has died out before the next beat,
    // so no envelope step (click) at the beat boundary.
    const m = `mod(${t},${num(period, 6)})`;
    parts.push(`${num(a.pulseLevel)}*(1-exp(-80*${m}))*exp(-${num(5 / period)}*${m})*sin(${num(2 * Math.PI * a.bassHz * ratio, 3)}*${t})`);
  }
  return parts.join('+');
}

export interface AudioBedOptions {
  /** Exact length in samples at {@link SAMPLE_RATE}. */
  samples: number;
  /** Seconds added to the clock. */
  timeOffset?: number;
  /** Fade in over this many seconds (0 for none). */
  fadeInSec?: number;
  /**
   * Sample rate the tones are computed at (default {@link SAMPLE_RATE}); a lower one is
   * resampled to {@link SAMPLE_RATE}. Cheaper, and exact enough for tones far below its Nyquist.
   */
  synthRate?: number;
}

/** Adds the audio bed; returns the label of a stereo 48 kHz stream of exactly `samples`. */
export function addAudioBed(g: GraphBuilder, a: AudioLook, options: AudioBedOptions): string {
  const offset = options.timeOffset ?? 0;
  const d = num(options.samples / SAMPLE_RATE + 0.05, 6); // a little extra; trimmed exactly below
  const exprs = `${channelExpr(a, 1, offset)}|${channelExpr(a, a.detune, offset)}`;
  const synthRate = options.synthRate ?? SAMPLE_RATE;
  const tones = g.source([
    `aevalsrc=${opts({ exprs: q(exprs), s: synthRate, d, c: 'stereo' })}`,
    ...(synthRate === SAMPLE_RATE ? [] : [`aresample=${SAMPLE_RATE}`, `aformat=${opts({ sample_rates: SAMPLE_RATE, channel_layouts: 'stereo' })}`]),
  ]);

  const noise = (seed: number): string => {
    const filters = [
      `anoisesrc=${opts({ c: a.noiseColor, seed, a: num(Math.min(1, a.noiseLevel)), r: SAMPLE_RATE, d, n: 256 })}`,
      `lowpass=${opts({ f: Math.round(a.noiseLowpassHz) })}`,
    ];
    if (a.swellHz > 0) {
      const swell = `0.55+0.45*sin(${num(2 * Math.PI * a.swellHz)}*(t+${num(offset)}))`;
      filters.push(`volume=${opts({ volume: q(swell), eval: 'frame' })}`);
    }
    return g.source(filters);
  };
  const noiseL = noise(a.noiseSeed);
  const noiseR = noise((a.noiseSeed + 7919) % 2147483647);
  const noiseStereo = g.chain([noiseL, noiseR], [`join=${opts({ inputs: 2, channel_layout: 'stereo' })}`]);

  const filters = [
    'amerge=inputs=2',
    'pan=stereo|c0=c0+c2|c1=c1+c3',
    `atrim=${opts({ end_sample: options.samples })}`,
    `aformat=${opts({ sample_fmts: 'fltp', sample_rates: SAMPLE_RATE, channel_layouts: 'stereo' })}`,
  ];
  if (options.fadeInSec && options.fadeInSec > 0) filters.push(`afade=${opts({ t: 'in', st: 0, d: num(options.fadeInSec) })}`);
  return g.chain([tones, noiseStereo], filters);
}

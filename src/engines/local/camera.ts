import { opts, q } from './graph.js';
import { num, type Rng } from './prng.js';
import type { CameraMove, Tempo } from './scene.js';

/**
 * Camera moves over a still, as `zoompan` expressions. A move is a path of a view rectangle over
 * a canvas: its centre (in canvas fractions) and its zoom (canvas width / view width), eased so
 * it starts and ends gently. zoompan crops that rectangle and scales it to the output size for
 * every frame.
 */

export interface CameraPath {
  z0: number;
  z1: number;
  cx0: number;
  cy0: number;
  cx1: number;
  cy1: number;
}

const TEMPO_AMOUNT: Record<Tempo, number> = { slow: 0.6, normal: 1, fast: 1.45 };

/**
 * Ken Burns over a still that fills the canvas edge to edge (zoom ≥ 1 always, so the view never
 * leaves the picture).
 */
export function kenBurnsPath(move: CameraMove, tempo: Tempo, rng: Rng): CameraPath {
  const a = TEMPO_AMOUNT[tempo];
  const zoom = 1 + 0.2 * a;
  const shift = 0.5 - 0.5 / zoom - 0.01; // furthest the centre may move at `zoom`
  const jx = rng.range(-0.03, 0.03);
  const jy = rng.range(-0.03, 0.03);
  switch (move) {
    case 'push-in':
      return { z0: 1, z1: zoom, cx0: 0.5, cy0: 0.5, cx1: 0.5 + jx, cy1: 0.5 + jy };
    case 'pull-back':
      return { z0: zoom, z1: 1, cx0: 0.5 + jx, cy0: 0.5 + jy, cx1: 0.5, cy1: 0.5 };
    case 'pan-left':
      return { z0: zoom, z1: zoom, cx0: 0.5 + shift, cy0: 0.5, cx1: 0.5 - shift, cy1: 0.5 };
    case 'pan-right':
      return { z0: zoom, z1: zoom, cx0: 0.5 - shift, cy0: 0.5, cx1: 0.5 + shift, cy1: 0.5 };
    case 'tilt-up':
      return { z0: zoom, z1: zoom, cx0: 0.5, cy0: 0.5 + shift, cx1: 0.5, cy1: 0.5 - shift };
    case 'tilt-down':
      return { z0: zoom, z1: zoom, cx0: 0.5, cy0: 0.5 - shift, cx1: 0.5, cy1: 0.5 + shift };
    case 'drift': {
      const z1 = 1 + 0.14 * a;
      return { z0: 1.02, z1, cx0: 0.5, cy0: 0.5, cx1: 0.5 + rng.range(-0.05, 0.05), cy1: 0.5 + rng.range(-0.04, 0.04) };
    }
  }
}

/**
 * A move that starts on the whole still (the "first frame" of a pair) and heads where the
 * prompt points; moves that need to start inside the picture (pull back) become a gentle push.
 */
export function openingPath(move: CameraMove, tempo: Tempo, rng: Rng): CameraPath {
  const a = TEMPO_AMOUNT[tempo];
  const zoom = 1 + 0.2 * a;
  const shift = 0.5 - 0.5 / zoom - 0.01;
  const start = { z0: 1, cx0: 0.5, cy0: 0.5, z1: zoom };
  switch (move) {
    case 'pan-left':
      return { ...start, cx1: 0.5 - shift, cy1: 0.5 };
    case 'pan-right':
      return { ...start, cx1: 0.5 + shift, cy1: 0.5 };
    case 'tilt-up':
      return { ...start, cx1: 0.5, cy1: 0.5 - shift };
    case 'tilt-down':
      return { ...start, cx1: 0.5, cy1: 0.5 + shift };
    case 'pull-back':
      return { ...start, z1: 1 + 0.06 * a, cx1: 0.5, cy1: 0.5 };
    case 'push-in':
    case 'drift':
      return { ...start, cx1: 0.5 + rng.range(-0.5, 0.5) * shift, cy1: 0.5 + rng.range(-0.5, 0.5) * shift };
  }
}

/** A move that settles on the whole still at its last frame (the "last frame" of a pair). */
export function settlePath(rng: Rng): CameraPath {
  return { z0: 1.14, z1: 1, cx0: 0.5 + rng.range(-0.04, 0.04), cy0: 0.5 + rng.range(-0.04, 0.04), cx1: 0.5, cy1: 0.5 };
}

/**
 * A continuation over a canvas twice the frame's size with the last frame at its centre (the
 * rest mirrored). It starts exactly on the last frame (zoom 2, centre 0.5) and moves as asked.
 */
export function continuationPath(move: CameraMove, tempo: Tempo, rng: Rng): CameraPath {
  const a = TEMPO_AMOUNT[tempo];
  const base = { z0: 2, cx0: 0.5, cy0: 0.5 };
  switch (move) {
    case 'push-in':
      return { ...base, z1: 2 * (1 + 0.4 * a), cx1: 0.5, cy1: 0.5 };
    case 'pull-back':
      return { ...base, z1: 2 * (1 - 0.22 * Math.min(a, 1.2)), cx1: 0.5, cy1: 0.5 };
    case 'pan-left':
      return { ...base, z1: 2.12, cx1: 0.5 - 0.13 * a, cy1: 0.5 };
    case 'pan-right':
      return { ...base, z1: 2.12, cx1: 0.5 + 0.13 * a, cy1: 0.5 };
    case 'tilt-up':
      return { ...base, z1: 2.12, cx1: 0.5, cy1: 0.5 - 0.12 * a };
    case 'tilt-down':
      return { ...base, z1: 2.12, cx1: 0.5, cy1: 0.5 + 0.12 * a };
    case 'drift':
      return { ...base, z1: 2 * (1 + 0.12 * a), cx1: 0.5 + rng.range(-0.05, 0.05) * a, cy1: 0.5 + rng.range(-0.04, 0.04) * a };
  }
}

/**
 * The `zoompan` filter for a path over `frames` frames, output `width`×`height` at `fps`.
 * Easing is smoothstep on the output frame index; the input must be a single still frame.
 * With `moveFrames` < `frames` the move ends early and the view holds (zoompan must produce
 * every frame itself: in this ffmpeg, filters after it such as `tpad` may never see its end).
 */
export function zoompanFilter(path: CameraPath, frames: number, width: number, height: number, fps: number, moveFrames = frames): string {
  const p = `min(on/${Math.max(1, moveFrames - 1)},1)`;
  const e = `(${p}*${p}*(3-2*${p}))`;
  const lerp = (a: number, b: number): string => (a === b ? num(a, 6) : `(${num(a, 6)}+${num(b - a, 6)}*${e})`);
  const zoompan = `zoompan=${opts({
    z: q(lerp(path.z0, path.z1)),
    x: q(`${lerp(path.cx0, path.cx1)}*iw-iw/zoom/2`),
    y: q(`${lerp(path.cy0, path.cy1)}*ih-ih/zoom/2`),
    d: frames,
    s: `${width}x${height}`,
    fps,
  })}`;
  // `trim` ends the stream itself: downstream filters do not always see zoompan's end.
  return `${zoompan},trim=${opts({ end_frame: frames })}`;
}

import type { LocalImage } from '../engine.js';
import { addOrbs, addPlasma, type Frame, fieldSize } from './background.js';
import { kenBurnsPath, openingPath, settlePath, zoompanFilter } from './camera.js';
import { type GraphBuilder, opts, q } from './graph.js';
import { fillFilters, imageInputArgs } from './images.js';
import { num, type Rng } from './prng.js';
import type { SceneLook } from './scene.js';

/** Appends an image input and returns its stream label (`[n:v]`). */
function addImageInput(inputs: string[], image: LocalImage): string {
  const index = inputs.filter((a) => a === '-i').length;
  inputs.push(...imageInputArgs(image));
  return `[${index}:v]`;
}

const even = (n: number): number => 2 * Math.round(n / 2);

/** Canvas oversampling for camera moves: zoompan crops whole pixels, so give it more of them. */
const OVERSAMPLE = 1.5;

/**
 * FIRST_AND_LAST_FRAMES_2_VIDEO. One still: a camera move over it (the prompt's move, else a
 * seeded drift). Two stills: the move over the first, then the second fades in while settling,
 * and the clip ends on the whole second still.
 */
export function firstAndLastScene(g: GraphBuilder, inputs: string[], look: SceneLook, frame: Frame, images: readonly LocalImage[], rng: Rng): string {
  const cw = even(frame.width * OVERSAMPLE);
  const ch = even(frame.height * OVERSAMPLE);
  const [first, second] = images;
  if (!first) throw new Error('no image');
  const firstIn = addImageInput(inputs, first);
  // One still: Ken Burns as the prompt asks. Two: open on the whole first still, close on the
  // whole second one (they are the first and last frames).
  const move = second ? openingPath(look.camera, look.tempo, rng) : kenBurnsPath(look.camera, look.tempo, rng);

  let video: string;
  if (!second) {
    video = g.chain(firstIn, [...fillFilters(cw, ch), zoompanFilter(move, frame.frames, frame.width, frame.height, frame.fps), 'setsar=1']);
  } else {
    const fadeStart = Math.round(frame.frames * 0.5);
    const fadeEnd = Math.round(frame.frames * 0.82);
    const firstFrames = fadeEnd + 1; // the first still's move ends when it is fully covered
    const a = g.chain(firstIn, [...fillFilters(cw, ch), zoompanFilter(move, frame.frames, frame.width, frame.height, frame.fps, firstFrames), 'setsar=1']);
    const secondIn = addImageInput(inputs, second);
    const b = g.chain(secondIn, [
      ...fillFilters(cw, ch),
      zoompanFilter(settlePath(rng), frame.frames - fadeStart, frame.width, frame.height, frame.fps),
      'setsar=1',
      'format=yuva420p',
      // Starts at the fade; overlay shows the first still alone until then.
      `setpts=PTS+${num(fadeStart / frame.fps, 6)}/TB`,
      `fade=${opts({ t: 'in', st: num(fadeStart / frame.fps), d: num((fadeEnd - fadeStart) / frame.fps), alpha: 1 })}`,
    ]);
    video = g.chain([a, b], [`overlay=${opts({ format: 'yuv420', eof_action: 'pass' })}`, 'format=yuv420p']);
  }
  // A couple of soft drifting lights from the prompt's palette.
  return addOrbs(g, { ...look, orbs: look.orbs.map((o) => ({ ...o, opacity: o.opacity * 0.45 })) }, frame, video, { limit: 2 });
}

/**
 * REFERENCE_2_VIDEO: the procedural scene, tinted by the first reference, with every reference
 * as a bordered panel that fades in and floats.
 */
export function referenceScene(g: GraphBuilder, inputs: string[], look: SceneLook, frame: Frame, images: readonly LocalImage[], rng: Rng): string {
  const n = images.length;
  const labels = images.map((img) => addImageInput(inputs, img));
  const firstPanel = g.label('ref');
  const tintStill = g.label('tint');
  g.chain(labels[0] as string, ['trim=end_frame=1', 'split=2'], `${firstPanel}${tintStill}`);
  const field = fieldSize(frame);
  const tint = g.chain(tintStill, [
    ...fillFilters(field.w, field.h, 'rgb24'),
    `loop=${opts({ loop: frame.frames - 1, size: 1, start: 0 })}`,
    `setpts=N/(${frame.fps}*TB)`,
  ]);
  let video = addPlasma(g, look, frame, { tintFrom: { label: tint, weight: 0.5 } });
  video = addOrbs(g, look, frame, video, { limit: 3 });

  const layout = [
    { w: 0.5, h: 0.62 },
    { w: 0.36, h: 0.6 },
    { w: 0.23, h: 0.56 },
  ][n - 1] ?? { w: 0.23, h: 0.56 };
  const pw = even(frame.width * layout.w);
  const ph = even(frame.height * layout.h);
  const border = Math.max(4, even(frame.height * 0.008));
  const shadow = Math.max(6, even(frame.height * 0.012));

  labels.forEach((label, i) => {
    const source = i === 0 ? firstPanel : label;
    const panel = g.chain(source, [
      ...fillFilters(pw, ph),
      `pad=${opts({ w: pw + 2 * border, h: ph + 2 * border, x: border, y: border, color: 'white' })}`,
      'format=yuva420p',
      `pad=${opts({ w: pw + 2 * (border + shadow), h: ph + 2 * (border + shadow), x: shadow, y: shadow, color: 'black@0.3' })}`,
      `loop=${opts({ loop: frame.frames - 1, size: 1, start: 0 })}`,
      `setpts=N/(${frame.fps}*TB)`,
      `fade=${opts({ t: 'in', st: num(0.25 + 0.45 * i), d: 0.8, alpha: 1 })}`,
    ]);
    const cx = (frame.width * (i + 1)) / (n + 1);
    const cy = frame.height * (0.5 + rng.range(-0.04, 0.04));
    const ax = frame.width * rng.range(0.012, 0.03);
    const ay = frame.height * rng.range(0.015, 0.035);
    const fx = 2 * Math.PI * rng.range(0.06, 0.12) * look.speed;
    const fy = 2 * Math.PI * rng.range(0.08, 0.16) * look.speed;
    const px = rng.range(0, 2 * Math.PI);
    const py = rng.range(0, 2 * Math.PI);
    const x = `${num(cx)}-w/2+${num(ax)}*sin(${num(fx)}*t+${num(px)})`;
    const y = `${num(cy)}-h/2+${num(ay)}*sin(${num(fy)}*t+${num(py)})`;
    video = g.chain([video, panel], [`overlay=${opts({ x: q(x), y: q(y), eval: 'frame', format: 'yuv420' })}`]);
  });
  return video;
}

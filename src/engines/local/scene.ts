import { blendPalettes, hslPalette, MOOD_PALETTES, type MoodName, type Palette, paletteAt, type Rgb } from './palettes.js';
import { hash32, Rng } from './prng.js';

/**
 * Steering: a prompt and a seed become a {@link SceneLook}, the parameters every renderer in
 * this engine draws from. The mapping is a fixed word table (documented in docs/local-engine.md),
 * not a model: words pick the palette, pace and camera; the seed varies everything within that.
 */

export type CameraMove = 'push-in' | 'pull-back' | 'pan-left' | 'pan-right' | 'tilt-up' | 'tilt-down' | 'drift';
export type Tempo = 'slow' | 'normal' | 'fast';

/** One travelling sine wave of the plasma field, in normalised coordinates. */
interface Wave {
  kx: number;
  ky: number;
  /** Radians per second (before the tempo's speed factor). */
  omega: number;
  phase: number;
  amp: number;
}

/** A soft glowing disc that drifts along a Lissajous path. */
interface Orb {
  /** Diameter as a fraction of the frame's shorter side. */
  size: number;
  cx: number;
  cy: number;
  ax: number;
  ay: number;
  /** Cycles per second along x and y (before the speed factor). */
  fx: number;
  fy: number;
  px: number;
  py: number;
  /** Its colour: a light tone of the palette (or of the second mood's). */
  color: Rgb;
  opacity: number;
}

export interface AudioLook {
  /** Chord tones in Hz. */
  tones: number[];
  /** Gentle amplitude wobble per tone, Hz. */
  wobbleHz: number[];
  phases: number[];
  /** Beats per second of the soft bass pulse; 0 for none. */
  pulseHz: number;
  pulseLevel: number;
  bassHz: number;
  noiseColor: 'white' | 'pink' | 'brown';
  noiseLevel: number;
  noiseLowpassHz: number;
  /** Slow swell of the noise (waves, wind), Hz; 0 for steady. */
  swellHz: number;
  noiseSeed: number;
  /** Stereo detune of the right channel, as a ratio (e.g. 1.002). */
  detune: number;
}

export interface SceneLook {
  moods: MoodName[];
  tempo: Tempo;
  camera: CameraMove;
  palette: Palette;
  /** Multiplies the palette (night scenes are darker). */
  brightness: number;
  /** Motion speed factor applied to every time term. */
  speed: number;
  /** Visual beat: brightness pulses per second and their depth (0..0.2). */
  pulseHz: number;
  pulseDepth: number;
  /** Degrees of slow hue swing over time. */
  hueSwing: number;
  /** Static hue offset in degrees (seed variation). */
  hueOffset: number;
  waves: Wave[];
  ring: { freq: number; omega: number; amp: number; cx: number; cy: number; rx: number; ry: number; rate: number };
  /** Vertical gradient weight: > 0 makes the top of the frame lie further along the palette. */
  skyGradient: number;
  orbs: Orb[];
  audio: AudioLook;
}

interface MoodRule {
  name: MoodName;
  words: readonly string[];
}

const MOOD_RULES: readonly MoodRule[] = [
  {
    name: 'warm',
    words: [
      'sunset',
      'sunsets',
      'sunrise',
      'dusk',
      'dawn',
      'golden',
      'warm',
      'amber',
      'orange',
      'desert',
      'autumn',
      'summer',
      'sun',
      'sunny',
      'sunlit',
      'honey',
      'savanna',
    ],
  },
  { name: 'fire', words: ['fire', 'fires', 'flame', 'flames', 'lava', 'volcano', 'ember', 'embers', 'burning', 'blaze', 'inferno', 'red'] },
  {
    name: 'night',
    words: [
      'night',
      'nights',
      'midnight',
      'dark',
      'darkness',
      'moon',
      'moonlit',
      'moonlight',
      'stars',
      'starry',
      'star',
      'space',
      'galaxy',
      'cosmos',
      'cosmic',
      'noir',
      'shadow',
      'shadows',
      'nocturnal',
      'evening',
    ],
  },
  {
    name: 'ocean',
    words: [
      'ocean',
      'oceans',
      'sea',
      'seas',
      'water',
      'waters',
      'wave',
      'waves',
      'beach',
      'underwater',
      'river',
      'lake',
      'rain',
      'rainy',
      'blue',
      'surf',
      'coast',
      'shore',
      'tide',
      'aqua',
      'reef',
      'harbor',
      'harbour',
    ],
  },
  {
    name: 'forest',
    words: [
      'forest',
      'forests',
      'jungle',
      'woods',
      'woodland',
      'garden',
      'grass',
      'tree',
      'trees',
      'leaves',
      'leaf',
      'nature',
      'green',
      'meadow',
      'moss',
      'spring',
      'park',
      'valley',
      'fern',
    ],
  },
  {
    name: 'snow',
    words: [
      'snow',
      'snowy',
      'ice',
      'icy',
      'winter',
      'frost',
      'frosty',
      'frozen',
      'arctic',
      'glacier',
      'cold',
      'white',
      'mist',
      'misty',
      'fog',
      'foggy',
      'cloud',
      'clouds',
      'cloudy',
    ],
  },
  {
    name: 'neon',
    words: [
      'neon',
      'city',
      'cities',
      'cyberpunk',
      'urban',
      'street',
      'streets',
      'club',
      'disco',
      'synthwave',
      'futuristic',
      'electric',
      'downtown',
      'arcade',
      'rave',
    ],
  },
  {
    name: 'dream',
    words: [
      'dream',
      'dreams',
      'dreamy',
      'pastel',
      'candy',
      'fairy',
      'magic',
      'magical',
      'pink',
      'romantic',
      'love',
      'flower',
      'flowers',
      'bloom',
      'blossom',
      'cherry',
      'sakura',
      'whimsical',
    ],
  },
];

const FAST_WORDS = new Set([
  'chase',
  'chases',
  'chasing',
  'fast',
  'faster',
  'race',
  'races',
  'racing',
  'run',
  'running',
  'speed',
  'speeding',
  'rush',
  'rushing',
  'action',
  'storm',
  'stormy',
  'explosion',
  'explosive',
  'energetic',
  'frantic',
  'chaos',
  'chaotic',
  'quick',
  'rapid',
  'hurry',
  'battle',
  'fight',
  'thunder',
  'wild',
  'intense',
  'dynamic',
  'flying',
  'zooming',
]);
const SLOW_WORDS = new Set([
  'calm',
  'calmer',
  'calmly',
  'slow',
  'slower',
  'slowly',
  'peaceful',
  'serene',
  'gentle',
  'gently',
  'quiet',
  'still',
  'relaxing',
  'relaxed',
  'meditation',
  'meditative',
  'tranquil',
  'lazy',
  'sleepy',
  'drifting',
  'soft',
  'softly',
  'lullaby',
  'ambient',
]);
const BEAT_WORDS = new Set([
  'dance',
  'dancing',
  'dancer',
  'music',
  'beat',
  'beats',
  'party',
  'club',
  'drum',
  'drums',
  'pulse',
  'pulsing',
  'heartbeat',
  'rhythm',
  'rhythmic',
  'concert',
  'rave',
  'disco',
]);

/** Camera phrases, matched on the normalised prompt; the earliest match wins. */
const CAMERA_RULES: ReadonlyArray<{ move: CameraMove; pattern: RegExp }> = [
  { move: 'push-in', pattern: /\b(push(es|ing)? in|zoom(s|ing)? in|dolly(ing)? in|move(s)? closer|moving closer|close ?up|closer)\b/ },
  { move: 'pull-back', pattern: /\b(pull(s|ing)? (back|out|away)|zoom(s|ing)? out|dolly(ing)? out|wide|wider|establishing|reveal(s|ing)?)\b/ },
  { move: 'pan-left', pattern: /\bpan(s|ning)? (to (the )?)?left\b/ },
  { move: 'pan-right', pattern: /\bpan(s|ning)? (to (the )?)?right\b/ },
  { move: 'tilt-up', pattern: /\b(tilt(s|ing)? up|crane(s|ing)? up|look(s|ing)? up)\b/ },
  { move: 'tilt-down', pattern: /\b(tilt(s|ing)? down|crane(s|ing)? down|look(s|ing)? down)\b/ },
];

/** Lower-case words of the prompt (any script), for the word table. */
function promptWords(prompt: string): string[] {
  return prompt.toLowerCase().match(/\p{L}+/gu) ?? [];
}

/** The camera move a prompt asks for, or `drift` when it names none. */
export function cameraMoveFor(prompt: string): CameraMove {
  const text = promptWords(prompt).join(' ');
  let best: { move: CameraMove; at: number } | null = null;
  for (const rule of CAMERA_RULES) {
    const m = rule.pattern.exec(text);
    if (m && (best === null || m.index < best.at)) best = { move: rule.move, at: m.index };
  }
  return best?.move ?? 'drift';
}

/** The moods a prompt's words select, strongest first (ties: first mentioned). */
export function moodsFor(prompt: string): MoodName[] {
  const words = promptWords(prompt);
  const scores = new Map<MoodName, { count: number; first: number }>();
  words.forEach((word, index) => {
    for (const rule of MOOD_RULES) {
      if (!rule.words.includes(word)) continue;
      const s = scores.get(rule.name);
      if (s) s.count += 1;
      else scores.set(rule.name, { count: 1, first: index });
    }
  });
  return [...scores.entries()].sort((a, b) => b[1].count - a[1].count || a[1].first - b[1].first).map(([name]) => name);
}

export function tempoFor(prompt: string): Tempo {
  let fast = 0;
  let slow = 0;
  for (const w of promptWords(prompt)) {
    if (FAST_WORDS.has(w)) fast += 1;
    if (SLOW_WORDS.has(w)) slow += 1;
  }
  if (fast > slow) return 'fast';
  if (slow > fast) return 'slow';
  return 'normal';
}

const TEMPO_SPEED: Record<Tempo, number> = { slow: 0.35, normal: 1, fast: 2.6 };

/** Chord shapes as frequency ratios over the root. */
const CHORDS = {
  major: [1, 5 / 4, 3 / 2, 2],
  minor: [1, 6 / 5, 3 / 2, 9 / 4],
  sus: [1, 4 / 3, 3 / 2, 2],
  add9: [1, 5 / 4, 3 / 2, 9 / 4],
  fifth: [1, 3 / 2, 2, 3],
} as const;

interface MoodSound {
  root: number;
  chord: keyof typeof CHORDS;
  noise: AudioLook['noiseColor'];
  noiseLevel: number;
  lowpass: number;
  swell: number;
}

const MOOD_SOUND: Record<MoodName | 'none', MoodSound> = {
  warm: { root: 220, chord: 'major', noise: 'pink', noiseLevel: 0.05, lowpass: 1800, swell: 0.08 },
  fire: { root: 164.81, chord: 'fifth', noise: 'brown', noiseLevel: 0.16, lowpass: 2400, swell: 0.35 },
  night: { root: 110, chord: 'minor', noise: 'brown', noiseLevel: 0.06, lowpass: 600, swell: 0.05 },
  ocean: { root: 174.61, chord: 'sus', noise: 'pink', noiseLevel: 0.2, lowpass: 900, swell: 0.11 },
  forest: { root: 196, chord: 'add9', noise: 'pink', noiseLevel: 0.08, lowpass: 3500, swell: 0.2 },
  snow: { root: 261.63, chord: 'sus', noise: 'white', noiseLevel: 0.035, lowpass: 5000, swell: 0.06 },
  neon: { root: 130.81, chord: 'minor', noise: 'pink', noiseLevel: 0.04, lowpass: 1200, swell: 0 },
  dream: { root: 293.66, chord: 'add9', noise: 'pink', noiseLevel: 0.03, lowpass: 2500, swell: 0.07 },
  none: { root: 196, chord: 'major', noise: 'pink', noiseLevel: 0.05, lowpass: 1500, swell: 0.09 },
};

const MOOD_BRIGHTNESS: Partial<Record<MoodName, number>> = { night: 0.75 };

/**
 * The look of a scene: deterministic in (prompt, seed). Words choose moods, tempo and camera;
 * the seed (with the prompt's hash, so different prompts differ too) draws the variations.
 */
export function sceneLook(prompt: string, seed: number): SceneLook {
  const moods = moodsFor(prompt);
  const tempo = tempoFor(prompt);
  const camera = cameraMoveFor(prompt);
  const words = promptWords(prompt);
  const beat = words.some((w) => BEAT_WORDS.has(w));
  const rng = new Rng(hash32(prompt.normalize('NFC'), seed >>> 0) ^ Math.imul(seed >>> 0, 0x9e3779b1));

  // The strongest mood paints the field; a second mood only tints it (averaging two opposite
  // palettes gives mud) and lends its colours to the lights.
  const [primary, secondary] = moods;
  const palette =
    primary === undefined
      ? hslPalette(rng.range(0, 360), rng.range(40, 90) * rng.sign(), rng.range(0.45, 0.75))
      : secondary === undefined
        ? MOOD_PALETTES[primary]
        : blendPalettes([
            { palette: MOOD_PALETTES[primary], weight: 0.85 },
            { palette: MOOD_PALETTES[secondary], weight: 0.15 },
          ]);
  const lightPalette = secondary === undefined ? palette : MOOD_PALETTES[secondary];
  const brightness = moods.reduce((b, m, i) => (i < 2 ? Math.min(b, MOOD_BRIGHTNESS[m] ?? 1) : b), 1);
  const speed = TEMPO_SPEED[tempo] * rng.range(0.85, 1.15);

  const waves: Wave[] = [0, 1, 2].map((i) => {
    const angle = rng.range(0, Math.PI * 2);
    const k = rng.range(3, 7.5) * (i === 0 ? 0.6 : 1);
    return {
      kx: Math.cos(angle) * k,
      ky: Math.sin(angle) * k,
      omega: rng.range(0.35, 0.9) * rng.sign(),
      phase: rng.range(0, Math.PI * 2),
      amp: rng.range(0.6, 1),
    };
  });
  const ring = {
    freq: rng.range(7, 14),
    omega: rng.range(0.8, 1.6),
    amp: rng.range(0.35, 0.7),
    cx: rng.range(0.3, 0.7),
    cy: rng.range(0.3, 0.7),
    rx: rng.range(0.1, 0.3),
    ry: rng.range(0.08, 0.25),
    rate: rng.range(0.15, 0.35),
  };

  const orbCount = tempo === 'fast' ? rng.int(5, 7) : tempo === 'slow' ? rng.int(2, 4) : rng.int(3, 5);
  const orbs: Orb[] = Array.from({ length: orbCount }, () => ({
    size: rng.range(0.12, 0.34),
    cx: rng.range(0.15, 0.85),
    cy: rng.range(0.2, 0.8),
    ax: rng.range(0.08, 0.3),
    ay: rng.range(0.05, 0.22),
    fx: rng.range(0.03, 0.09) * rng.sign(),
    fy: rng.range(0.03, 0.08) * rng.sign(),
    px: rng.range(0, Math.PI * 2),
    py: rng.range(0, Math.PI * 2),
    color: paletteAt(lightPalette, rng.range(0.7, 1)),
    opacity: rng.range(0.35, 0.7) * (moods[0] === 'night' ? 0.8 : 1),
  }));

  const pulseHz = beat ? rng.pick([2, 2.5]) : tempo === 'fast' ? rng.pick([2, 2.5, 3]) : tempo === 'slow' ? 0.5 : rng.pick([1, 1.25, 1.5]);
  const pulseDepth = beat ? 0.14 : tempo === 'fast' ? 0.08 : tempo === 'slow' ? 0.02 : 0.04;

  const sound = MOOD_SOUND[moods[0] ?? 'none'];
  const transpose = 2 ** (rng.int(-3, 3) / 12);
  const root = sound.root * transpose;
  const tones = CHORDS[sound.chord].map((r) => root * r);
  const audio: AudioLook = {
    tones,
    wobbleHz: tones.map(() => rng.range(0.07, 0.23) * (tempo === 'fast' ? 2 : 1)),
    phases: tones.map(() => rng.range(0, Math.PI * 2)),
    pulseHz,
    pulseLevel: beat ? 0.45 : tempo === 'fast' ? 0.3 : tempo === 'slow' ? 0.08 : 0.17,
    bassHz: root / 2,
    noiseColor: sound.noise,
    noiseLevel: sound.noiseLevel * 1.6 * (tempo === 'fast' ? 1.4 : 1),
    noiseLowpassHz: sound.lowpass,
    swellHz: sound.swell * (tempo === 'fast' ? 2 : tempo === 'slow' ? 0.6 : 1),
    noiseSeed: rng.int(1, 2 ** 31 - 1),
    detune: 1 + rng.range(0.0015, 0.004),
  };

  return {
    moods,
    tempo,
    camera,
    palette,
    brightness,
    speed,
    pulseHz,
    pulseDepth,
    hueSwing: moods.length === 0 ? rng.range(20, 45) : rng.range(6, 14),
    hueOffset: moods.length === 0 ? 0 : rng.range(-8, 8),
    waves,
    ring,
    skyGradient: moods[0] === 'warm' || moods[0] === 'snow' ? rng.range(0.25, 0.45) : rng.range(-0.15, 0.2),
    orbs,
    audio,
  };
}

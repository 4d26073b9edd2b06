/** The models this API serves and the closed sets their inputs draw from. */
export const MODELS = ['veo-3-1', 'veo-3-1-extend'] as const;
export type Model = (typeof MODELS)[number];

export const MODES = ['fast', 'quality'] as const;
export type Mode = (typeof MODES)[number];

export const GENERATION_TYPES = ['TEXT_2_VIDEO', 'FIRST_AND_LAST_FRAMES_2_VIDEO', 'REFERENCE_2_VIDEO'] as const;
export type GenerationType = (typeof GENERATION_TYPES)[number];

export const ASPECT_RATIOS = ['16:9', '9:16', 'auto'] as const;
export type AspectRatio = (typeof ASPECT_RATIOS)[number];

export const STRATEGIES = ['auto', 'value', 'official'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const REQUEST_TYPES = ['async', 'callback'] as const;
export type RequestType = (typeof REQUEST_TYPES)[number];

export function isModel(value: string): value is Model {
  return (MODELS as readonly string[]).includes(value);
}

/** Normalised `veo-3-1` input, defaults applied. `seed` is always set (drawn at submit when absent) so a retried run renders the same video. */
export interface GenerateInput {
  prompt: string;
  mode: Mode;
  generationType: GenerationType;
  aspectRatio: AspectRatio;
  imageUrls: string[];
  watermark: string | null;
  seed: number;
  enableTranslation: boolean;
}

/** Normalised `veo-3-1-extend` input. */
export interface ExtendInput {
  taskId: string;
  prompt: string;
  mode: Mode;
  watermark: string | null;
  seed: number;
}

export type TaskInput = GenerateInput | ExtendInput;

/** Seconds of video: a generation is 8 s, each extension adds 7 s, at most 20 extensions in a chain. */
export const GENERATE_SECONDS = 8;
export const EXTEND_SECONDS = 7;
export const MAX_CHAIN_EXTENSIONS = 20;

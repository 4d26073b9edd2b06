import type { Mode } from '../../domain/models.js';
import type { RenderJob } from '../engine.js';
import type { TailLimits } from '../splice/tail-plan.js';

/** What a task asks fal for: the endpoint differs by mode and by kind of input. */
const FAL_KINDS = ['text', 'image', 'first-last', 'reference', 'extend'] as const;
type FalKind = (typeof FAL_KINDS)[number];

/** `"<mode>/<kind>"` → fal endpoint id, e.g. `"fast/extend": "fal-ai/veo3.1/fast/extend-video"`. */
export type FalEndpoints = Record<`${Mode}/${FalKind}`, string>;

/**
 * fal's Veo 3.1 endpoints (fal.ai/models/fal-ai/veo3.1, as documented late 2026; docs/partners.md).
 * Reference-to-video has no fast variant; the contract allows REFERENCE_2_VIDEO in fast mode only,
 * so both modes send it to the one endpoint there is.
 */
export const DEFAULT_FAL_ENDPOINTS: FalEndpoints = {
  'fast/text': 'fal-ai/veo3.1/fast',
  'fast/image': 'fal-ai/veo3.1/fast/image-to-video',
  'fast/first-last': 'fal-ai/veo3.1/fast/first-last-frame-to-video',
  'fast/reference': 'fal-ai/veo3.1/reference-to-video',
  'fast/extend': 'fal-ai/veo3.1/fast/extend-video',
  'quality/text': 'fal-ai/veo3.1',
  'quality/image': 'fal-ai/veo3.1/image-to-video',
  'quality/first-last': 'fal-ai/veo3.1/first-last-frame-to-video',
  'quality/reference': 'fal-ai/veo3.1/reference-to-video',
  'quality/extend': 'fal-ai/veo3.1/extend-video',
};

/** fal's extend-video takes a video of up to 8 s. */
export const FAL_TAIL_LIMITS: TailLimits = { minTailSec: 4, maxTailSec: 8, minInputSec: 1 };

const ENDPOINT = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

/** Checks an operator's `models` overrides; returns the full table or the problem. */
export function falEndpoints(overrides: Record<string, unknown> | undefined): { ok: true; value: FalEndpoints } | { ok: false; error: string } {
  const table: FalEndpoints = { ...DEFAULT_FAL_ENDPOINTS };
  for (const [key, value] of Object.entries(overrides ?? {})) {
    if (!(key in table)) return { ok: false, error: `"models" has an unknown key "${key}" (use ${Object.keys(table).join(', ')})` };
    if (typeof value !== 'string' || !ENDPOINT.test(value))
      return { ok: false, error: `"models"."${key}" must be a fal endpoint id such as fal-ai/veo3.1/fast` };
    table[key as keyof FalEndpoints] = value;
  }
  return { ok: true, value: table };
}

function kindOf(job: RenderJob): FalKind {
  if (job.model === 'veo-3-1-extend') return 'extend';
  switch (job.generationType) {
    case 'TEXT_2_VIDEO':
      return 'text';
    case 'FIRST_AND_LAST_FRAMES_2_VIDEO':
      return job.images.length >= 2 ? 'first-last' : 'image';
    case 'REFERENCE_2_VIDEO':
      return 'reference';
  }
}

export function falEndpoint(endpoints: FalEndpoints, job: RenderJob): string {
  return endpoints[`${job.mode}/${kindOf(job)}`];
}

/** The app id of an endpoint: its owner and app (`fal-ai/veo3.1`), which the queue's request routes use. */
export function appOf(endpoint: string): string {
  return endpoint.split('/').slice(0, 2).join('/');
}

/**
 * The input of the endpoint for this job. Images are data URIs of the files run-task already
 * downloaded and checked (fal takes data URIs in any URL field); an extension's `video` is the
 * source's tail as a data URI. 8 s at 720p with sound, the seed (reference-to-video takes none).
 */
export function falInput(job: RenderJob, images: string[], video: string | null): Record<string, unknown> {
  const kind = kindOf(job);
  const base: Record<string, unknown> = { prompt: job.prompt, resolution: '720p', generate_audio: true };
  if (kind !== 'reference') base.seed = job.seed;
  switch (kind) {
    case 'extend':
      return { ...base, video_url: video, duration: '7s' };
    case 'text':
      return { ...base, aspect_ratio: job.aspectRatio, duration: '8s' };
    case 'image':
      return { ...base, image_url: images[0], aspect_ratio: job.aspectRatio, duration: '8s' };
    case 'first-last':
      return { ...base, first_frame_url: images[0], last_frame_url: images[1], aspect_ratio: job.aspectRatio, duration: '8s' };
    case 'reference':
      return { ...base, image_urls: images, aspect_ratio: '16:9', duration: '8s' };
  }
}

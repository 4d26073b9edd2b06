import type { RenderJob } from '../engine.js';
import type { InlineImage } from '../gemini/request.js';

/** A video as Vertex AI takes it in an instance: inline bytes (we never upload sources to GCS). */
export interface InlineVideo {
  bytesBase64Encoded: string;
  mimeType: 'video/mp4';
}

/** The body of `POST …/models/{model}:predictLongRunning` for Veo on Vertex AI. */
export interface VertexPredictBody {
  instances: [
    {
      prompt: string;
      image?: InlineImage;
      lastFrame?: InlineImage;
      referenceImages?: Array<{ image: InlineImage; referenceType: 'asset' }>;
      video?: InlineVideo;
    },
  ];
  parameters: {
    sampleCount: 1;
    durationSeconds: number;
    aspectRatio: '16:9' | '9:16';
    resolution: '720p';
    generateAudio: true;
    seed: number;
    storageUri?: string;
  };
}

/** Veo on Vertex adds this much to a video it extends (cloud docs, "Extend a Veo video"). */
const VERTEX_EXTEND_SECONDS = 7;

/**
 * Maps a job to Vertex's request (docs/vertex.md, request mapping). Unlike the Gemini API, Vertex
 * takes a `seed`, so results on this route are reproducible by seed (`enhancePrompt` is not
 * sent: Google documents that it defeats the seed). Generate: 8 s; the first image is the first
 * frame and a second one the last frame, or 1–3 reference images. Extend: `tail` is the part of
 * the source sent (inline MP4, 1–30 s); Veo returns it followed by 7 s.
 */
export function buildVertexBody(job: RenderJob, images: InlineImage[], tail: InlineVideo | null, storageUri: string | null): VertexPredictBody {
  const instance: VertexPredictBody['instances'][0] = { prompt: job.prompt };
  let durationSeconds = 8;
  if (job.model === 'veo-3-1-extend') {
    if (tail === null) throw new Error('an extension needs the tail of its source');
    instance.video = tail;
    durationSeconds = VERTEX_EXTEND_SECONDS;
  } else if (job.generationType === 'FIRST_AND_LAST_FRAMES_2_VIDEO') {
    if (images[0]) instance.image = images[0];
    if (images[1]) instance.lastFrame = images[1];
  } else if (job.generationType === 'REFERENCE_2_VIDEO') {
    instance.referenceImages = images.map((image) => ({ image, referenceType: 'asset' }));
  }
  return {
    instances: [instance],
    parameters: {
      sampleCount: 1,
      durationSeconds,
      aspectRatio: job.aspectRatio,
      resolution: '720p',
      generateAudio: true,
      // Vertex takes a uint32 seed; ours is validated to that range at submit.
      seed: job.seed >>> 0,
      ...(storageUri ? { storageUri } : {}),
    },
  };
}

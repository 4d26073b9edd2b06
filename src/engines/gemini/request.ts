import { readFile } from 'node:fs/promises';
import type { LocalImage, RenderJob } from '../engine.js';

/** An image as the Gemini API takes it inline. */
export interface InlineImage {
  bytesBase64Encoded: string;
  mimeType: 'image/jpeg' | 'image/png';
}

/** The body of `POST /v1beta/models/{model}:predictLongRunning` for Veo. */
export interface PredictBody {
  instances: [
    {
      prompt: string;
      image?: InlineImage;
      lastFrame?: InlineImage;
      referenceImages?: Array<{ image: InlineImage; referenceType: 'asset' }>;
      video?: { uri: string };
    },
  ];
  parameters: {
    aspectRatio: '16:9' | '9:16';
    resolution: '720p';
    durationSeconds?: number;
  };
}

/**
 * Maps a job to Veo's request. Generate: 8 s, 720p, the resolved aspect ratio; the first image
 * is the first frame (`image`) and a second one the last frame (`lastFrame`), or 1–3
 * `referenceImages` (asset). Extend: the source's upstream video handle (`video.uri`); Google
 * fixes the continuation's length (7 s) and keeps the source's size.
 * `seed` is not sent: the Gemini API (not Vertex AI) does not take one (docs/gemini.md).
 */
export async function buildPredictBody(job: RenderJob, upstreamVideo: string | null, images: InlineImage[]): Promise<PredictBody> {
  const instance: PredictBody['instances'][0] = { prompt: job.prompt };
  const parameters: PredictBody['parameters'] = { aspectRatio: job.aspectRatio, resolution: '720p' };
  if (job.model === 'veo-3-1-extend') {
    if (upstreamVideo === null) throw new Error('an extension needs the source video handle');
    instance.video = { uri: upstreamVideo };
  } else {
    parameters.durationSeconds = 8;
    if (job.generationType === 'FIRST_AND_LAST_FRAMES_2_VIDEO') {
      if (images[0]) instance.image = images[0];
      if (images[1]) instance.lastFrame = images[1];
    } else if (job.generationType === 'REFERENCE_2_VIDEO') {
      instance.referenceImages = images.map((image) => ({ image, referenceType: 'asset' }));
    }
  }
  return { instances: [instance], parameters };
}

/**
 * Reads images as base64. They arrive as sharp's JPEG or PNG re-encodes (src/net/clean-image.ts),
 * both types Veo lists, so no conversion is needed. The trailing parameters are ignored: they
 * fed an ffmpeg WebP→PNG step that is gone, and stay optional only while callers still pass them.
 */
export async function inlineImages(images: readonly LocalImage[]): Promise<InlineImage[]> {
  return Promise.all(images.map(async (image) => ({ bytesBase64Encoded: (await readFile(image.path)).toString('base64'), mimeType: image.mime })));
}

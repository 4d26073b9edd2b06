/**
 * Request-shape checks of the fake Vertex AI Veo (test/support/fake-vertex.ts), after the Veo
 * model reference (docs.cloud.google.com/vertex-ai/generative-ai/docs/model-reference/veo-video-generation):
 * `instances[0]` holds the prompt and media, `parameters` the generation settings. Each check
 * answers the INVALID_ARGUMENT message Google would give, or null when the request is well formed.
 */

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
/** Protobuf JSON takes bytes as standard or URL-safe base64, padded or not. */
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp'];

/** A `{bytesBase64Encoded | gcsUri, mimeType}` media object (the union Google documents). */
function checkMedia(m: unknown, field: string, kind: 'image' | 'video'): string | null {
  if (!isObject(m)) return `${field} must be an object with bytesBase64Encoded or gcsUri.`;
  const bytes = m.bytesBase64Encoded;
  const gcs = m.gcsUri;
  if ((bytes !== undefined) === (gcs !== undefined)) return `${field}: exactly one of bytesBase64Encoded or gcsUri must be set.`;
  if (bytes !== undefined && (typeof bytes !== 'string' || bytes.length === 0 || !BASE64.test(bytes))) {
    return `${field}.bytesBase64Encoded is not valid base64.`;
  }
  if (gcs !== undefined && (typeof gcs !== 'string' || !/^gs:\/\/[^/]+\/.+/.test(gcs))) {
    return `${field}.gcsUri must be a Cloud Storage URI of the form gs://bucket/object.`;
  }
  const mime = m.mimeType;
  if (kind === 'image' && (typeof mime !== 'string' || !IMAGE_TYPES.includes(mime))) {
    return `${field}.mimeType must be one of ${IMAGE_TYPES.join(', ')}.`;
  }
  // An inline video needs its type; a Cloud Storage object carries its own.
  if (kind === 'video' && (bytes !== undefined || mime !== undefined) && mime !== 'video/mp4') return `${field}.mimeType must be video/mp4.`;
  return null;
}

function checkInstance(inst: unknown): string | null {
  if (!isObject(inst)) return 'instances[0] must be an object.';
  // The prompt is required for text-to-video and optional with an input image or video.
  if (inst.prompt !== undefined && typeof inst.prompt !== 'string') return 'instances[0].prompt must be a string.';
  if (inst.prompt === undefined && inst.image === undefined && inst.video === undefined) {
    return 'instances[0].prompt is required for text-to-video generation.';
  }
  for (const field of ['image', 'lastFrame'] as const) {
    if (inst[field] !== undefined) {
      const bad = checkMedia(inst[field], `instances[0].${field}`, 'image');
      if (bad) return bad;
    }
  }
  if (inst.lastFrame !== undefined && inst.image === undefined) return 'instances[0].lastFrame requires instances[0].image (the first frame).';
  if (inst.referenceImages !== undefined) {
    const refs = inst.referenceImages;
    if (!Array.isArray(refs) || refs.length === 0 || refs.length > 3) return 'instances[0].referenceImages must hold 1 to 3 images.';
    for (const [i, ref] of refs.entries()) {
      if (!isObject(ref)) return `instances[0].referenceImages[${i}] must be an object.`;
      const bad = checkMedia(ref.image, `instances[0].referenceImages[${i}].image`, 'image');
      if (bad) return bad;
      if (ref.referenceType !== undefined && ref.referenceType !== 'asset' && ref.referenceType !== 'style') {
        return `instances[0].referenceImages[${i}].referenceType must be asset or style.`;
      }
    }
    if (inst.image !== undefined) return 'instances[0].referenceImages cannot be combined with instances[0].image.';
  }
  if (inst.video !== undefined) {
    const bad = checkMedia(inst.video, 'instances[0].video', 'video');
    if (bad) return bad;
    if (inst.image !== undefined || inst.referenceImages !== undefined) return 'instances[0].video cannot be combined with image inputs.';
  }
  return null;
}

function checkParameters(p: unknown, extension: boolean): string | null {
  if (p === undefined) return null;
  if (!isObject(p)) return 'parameters must be an object.';
  if (p.aspectRatio !== undefined && p.aspectRatio !== '16:9' && p.aspectRatio !== '9:16') {
    return `Unsupported aspect ratio: ${String(p.aspectRatio)}. Supported values are 16:9 and 9:16.`;
  }
  if (p.durationSeconds !== undefined) {
    const d = p.durationSeconds;
    // An extension always adds 7 s; the field is tolerated there but only 4, 6 and 8 make a generation.
    const ok = extension ? isInt(d) && d >= 1 && d <= 8 : d === 4 || d === 6 || d === 8;
    if (!ok) return `Unsupported duration: ${String(d)} seconds. Supported durations are 4, 6 and 8 seconds.`;
  }
  if (p.seed !== undefined && !(isInt(p.seed) && p.seed >= 0 && p.seed <= 4294967295)) {
    return `seed must be an integer in [0, 4294967295], got ${JSON.stringify(p.seed)}.`;
  }
  if (p.sampleCount !== undefined && !(isInt(p.sampleCount) && p.sampleCount >= 1 && p.sampleCount <= 4)) {
    return `sampleCount must be an integer in [1, 4], got ${JSON.stringify(p.sampleCount)}.`;
  }
  if (p.resolution !== undefined && !['720p', '1080p', '4k'].includes(String(p.resolution).toLowerCase())) {
    return `Unsupported resolution: ${String(p.resolution)}. Supported values are 720p, 1080p and 4k.`;
  }
  for (const field of ['generateAudio', 'enhancePrompt'] as const) {
    if (p[field] !== undefined && typeof p[field] !== 'boolean') return `parameters.${field} must be a boolean.`;
  }
  for (const field of ['negativePrompt', 'storageUri', 'pubsubTopic'] as const) {
    if (p[field] !== undefined && typeof p[field] !== 'string') return `parameters.${field} must be a string.`;
  }
  if (typeof p.storageUri === 'string' && !/^gs:\/\/[^/]+(\/.*)?$/.test(p.storageUri)) {
    return `storageUri must be a Cloud Storage URI of the form gs://bucket/prefix, got ${p.storageUri}.`;
  }
  if (p.personGeneration !== undefined && !['allow_adult', 'dont_allow', 'allow_all'].includes(String(p.personGeneration))) {
    return `Unsupported personGeneration: ${String(p.personGeneration)}.`;
  }
  return null;
}

/** The INVALID_ARGUMENT message for a malformed predictLongRunning body, or null. */
export function checkSubmitBody(body: unknown): string | null {
  if (!isObject(body)) return 'Invalid JSON payload received. The request body must be a JSON object.';
  if (!Array.isArray(body.instances) || body.instances.length === 0) return 'instances is required and must hold one instance.';
  if (body.instances.length > 1) return 'Only one instance is supported per request.';
  return checkInstance(body.instances[0]) ?? checkParameters(body.parameters, isObject(body.instances[0]) && body.instances[0].video !== undefined);
}

/** Frame size of a generated clip, from `aspectRatio` and `resolution` (720p when absent). */
export function clipSize(aspectRatio: unknown, resolution: unknown): { width: number; height: number } {
  const long = { '1080p': 1920, '4k': 3840 }[String(resolution ?? '720p').toLowerCase()] ?? 1280;
  const short = (long * 9) / 16;
  return aspectRatio === '9:16' ? { width: short, height: long } : { width: long, height: short };
}

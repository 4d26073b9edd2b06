/**
 * Input checks of the fake fal queue (test/support/fake-fal.ts) for the Veo 3.1 endpoints, after
 * their schemas on fal.ai/models/fal-ai/veo3.1/…/llms.txt and @fal-ai/client's generated types.
 * fal's model apps are pydantic models behind FastAPI: a bad input becomes a 422 whose `detail`
 * is a list of `{loc, msg, type, …}`. fal's own error types (docs.fal.ai/model-apis/errors) carry
 * a `url`; pydantic's (`missing`, `literal_error`, `*_type`) do not here.
 */

export interface FalErrorDetail {
  loc: Array<string | number>;
  msg: string;
  type: string;
  url?: string;
  ctx?: Record<string, unknown>;
  input?: unknown;
}

export type EndpointKind = 'text' | 'image' | 'frames' | 'reference' | 'extend';

const VEO = 'fal-ai/veo3.1';
/** Every Veo 3.1 endpoint fal lists (quality, fast and lite). */
export const VEO_ENDPOINTS = [
  VEO,
  `${VEO}/fast`,
  `${VEO}/lite`,
  `${VEO}/image-to-video`,
  `${VEO}/fast/image-to-video`,
  `${VEO}/lite/image-to-video`,
  `${VEO}/first-last-frame-to-video`,
  `${VEO}/fast/first-last-frame-to-video`,
  `${VEO}/lite/first-last-frame-to-video`,
  `${VEO}/reference-to-video`,
  `${VEO}/extend-video`,
  `${VEO}/fast/extend-video`,
];

export function endpointKind(endpoint: string): EndpointKind {
  if (endpoint.endsWith('/image-to-video')) return 'image';
  if (endpoint.endsWith('/first-last-frame-to-video')) return 'frames';
  if (endpoint.endsWith('/reference-to-video')) return 'reference';
  if (endpoint.endsWith('/extend-video')) return 'extend';
  return 'text';
}

/** A fal-typed error entry (the kind docs.fal.ai/model-apis/errors documents). */
export function falError(
  loc: Array<string | number>,
  type: string,
  msg: string,
  extra: { ctx?: Record<string, unknown>; input?: unknown } = {},
): FalErrorDetail {
  return { loc: ['body', ...loc], msg, type, url: `https://docs.fal.ai/errors#${type}`, ...extra };
}

const quoted = (values: readonly string[]): string => {
  const q = values.map((v) => `'${v}'`);
  return q.length === 1 ? q[0]! : `${q.slice(0, -1).join(', ')} or ${q.at(-1)!}`;
};

interface Rules {
  aspect: readonly string[];
  duration: readonly string[];
  resolution: readonly string[];
}

function rules(endpoint: string, kind: EndpointKind): Rules {
  const lite = endpoint.startsWith(`${VEO}/lite`);
  const resolution = lite ? ['720p', '1080p'] : ['720p', '1080p', '4k'];
  switch (kind) {
    case 'text':
      return { aspect: ['16:9', '9:16'], duration: ['4s', '6s', '8s'], resolution };
    case 'image':
    case 'frames':
      return { aspect: ['auto', '16:9', '9:16'], duration: ['4s', '6s', '8s'], resolution };
    // Veo's reference-to-video makes 8 s only; fal types `duration` as a free string.
    case 'reference':
      return { aspect: ['16:9', '9:16'], duration: ['8s'], resolution };
    // An extension adds 7 s at 720p (fal: default "7s" / "720p").
    case 'extend':
      return { aspect: ['auto', '16:9', '9:16'], duration: ['7s'], resolution: ['720p'] };
  }
}

/** Required URL fields of each kind, besides `prompt`. */
export const URL_FIELDS: Record<EndpointKind, string[]> = {
  text: [],
  image: ['image_url'],
  frames: ['first_frame_url', 'last_frame_url'],
  reference: [],
  extend: ['video_url'],
};

/** Schema errors of an input (pydantic's view), empty when well formed. */
export function checkInput(endpoint: string, body: unknown): FalErrorDetail[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return [{ loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', type: 'model_attributes_type', input: body }];
  }
  const b = body as Record<string, unknown>;
  const kind = endpointKind(endpoint);
  const r = rules(endpoint, kind);
  const errors: FalErrorDetail[] = [];
  const missing = (field: string): void => void errors.push({ loc: ['body', field], msg: 'Field required', type: 'missing', input: body });
  const typed = (field: string, type: string, what: string, ok: (v: unknown) => boolean): void => {
    if (b[field] !== undefined && !ok(b[field])) errors.push({ loc: ['body', field], msg: `Input should be a valid ${what}`, type, input: b[field] });
  };
  const oneOf = (field: string, allowed: readonly string[]): void => {
    const v = b[field];
    if (v !== undefined && !allowed.includes(v as string)) {
      errors.push({ loc: ['body', field], msg: `Input should be ${quoted(allowed)}`, type: 'literal_error', ctx: { expected: quoted(allowed) }, input: v });
    }
  };
  if (b.prompt === undefined) missing('prompt');
  typed('prompt', 'string_type', 'string', (v) => typeof v === 'string');
  for (const field of URL_FIELDS[kind]) {
    if (b[field] === undefined) missing(field);
    typed(field, 'string_type', 'string', (v) => typeof v === 'string');
  }
  if (kind === 'reference') {
    const urls = b.image_urls;
    if (urls === undefined) missing('image_urls');
    else if (!Array.isArray(urls)) errors.push({ loc: ['body', 'image_urls'], msg: 'Input should be a valid list', type: 'list_type', input: urls });
    else if (urls.length < 1 || urls.length > 3) {
      const [type, ctx] = urls.length < 1 ? (['too_short', { min_length: 1 }] as const) : (['too_long', { max_length: 3 }] as const);
      errors.push({
        loc: ['body', 'image_urls'],
        msg: `List should have ${urls.length < 1 ? 'at least 1 item' : 'at most 3 items'} after validation, not ${urls.length}`,
        type,
        ctx,
        input: urls,
      });
    } else {
      for (const [i, u] of urls.entries()) {
        if (typeof u !== 'string') errors.push({ loc: ['body', 'image_urls', i], msg: 'Input should be a valid string', type: 'string_type', input: u });
      }
    }
  }
  oneOf('aspect_ratio', r.aspect);
  oneOf('duration', r.duration);
  oneOf('resolution', r.resolution);
  oneOf('safety_tolerance', ['1', '2', '3', '4', '5', '6']);
  for (const field of ['generate_audio', 'auto_fix']) typed(field, 'bool_type', 'boolean', (v) => typeof v === 'boolean');
  typed('negative_prompt', 'string_type', 'string', (v) => typeof v === 'string');
  typed('seed', 'int_type', 'integer', (v) => Number.isInteger(v));
  return errors;
}

/** `data:<mime>;base64,<bytes>` decoded, or null when it is not a base64 data URI. */
export function decodeDataUri(uri: string): { mime: string; bytes: Buffer } | null {
  const m = /^data:([^;,]+)((?:;[^;,]+)*);base64,([A-Za-z0-9+/=\s]*)$/.exec(uri);
  if (!m) return null;
  const bytes = Buffer.from(m[3]!, 'base64');
  return bytes.length === 0 ? null : { mime: m[1]!.toLowerCase(), bytes };
}

/** Sniffs PNG, JPEG, WebP and GIF; a PNG also tells its size (to resolve aspect_ratio "auto"). */
export function sniffImage(bytes: Buffer): { format: string; width?: number; height?: number } | null {
  if (bytes.length >= 24 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    return { format: 'png', width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  }
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return { format: 'jpeg' };
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return { format: 'webp' };
  if (bytes.length >= 6 && /^GIF8[79]a$/.test(bytes.toString('latin1', 0, 6))) return { format: 'gif' };
  return null;
}

/**
 * `veo-3-1` submit bodies the API refuses with a 400, and the field it names: test/contract.test.ts
 * sends each to the route, test/models.test.ts holds each against the catalogue's schemas.
 */
export const BAD_GENERATE_BODIES: ReadonlyArray<readonly [name: string, body: unknown, field: string]> = [
  ['no input', {}, 'input'],
  ['input not an object', { input: 'x' }, 'input'],
  ['missing prompt', { input: {} }, 'input.prompt'],
  ['numeric prompt (no coercion)', { input: { prompt: 1 } }, 'input.prompt'],
  ['empty prompt', { input: { prompt: '' } }, 'input.prompt'],
  ['whitespace prompt', { input: { prompt: ' \n\t ' } }, 'input.prompt'],
  ['prompt over 10000 code points', { input: { prompt: '😀'.repeat(10001) } }, 'input.prompt'],
  ['bad mode', { input: { prompt: 'x', mode: 'turbo' } }, 'input.mode'],
  ['bad generationType', { input: { prompt: 'x', generationType: 'IMAGE' } }, 'input.generationType'],
  ['bad aspect', { input: { prompt: 'x', aspect_ratio: '4:3' } }, 'input.aspect_ratio'],
  ['images for text', { input: { prompt: 'x', image_urls: ['https://example.com/a.png'] } }, 'input.image_urls'],
  ['frames without images', { input: { prompt: 'x', generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO' } }, 'input.image_urls'],
  [
    'three frame images',
    { input: { prompt: 'x', generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO', image_urls: ['https://a.com/1', 'https://a.com/2', 'https://a.com/3'] } },
    'input.image_urls',
  ],
  [
    'four reference images',
    { input: { prompt: 'x', generationType: 'REFERENCE_2_VIDEO', image_urls: ['https://a.com/1', 'https://a.com/2', 'https://a.com/3', 'https://a.com/4'] } },
    'input.image_urls',
  ],
  [
    'reference in quality mode',
    { input: { prompt: 'x', generationType: 'REFERENCE_2_VIDEO', mode: 'quality', image_urls: ['https://a.com/1'] } },
    'input.mode',
  ],
  [
    'reference at 9:16',
    { input: { prompt: 'x', generationType: 'REFERENCE_2_VIDEO', aspect_ratio: '9:16', image_urls: ['https://a.com/1'] } },
    'input.aspect_ratio',
  ],
  ['image url not http', { input: { prompt: 'x', generationType: 'REFERENCE_2_VIDEO', image_urls: ['ftp://a.com/1'] } }, 'input.image_urls[0]'],
  ['image url not a string', { input: { prompt: 'x', generationType: 'REFERENCE_2_VIDEO', image_urls: [5] } }, 'input.image_urls[0]'],
  ['watermark too long', { input: { prompt: 'x', watermark: 'w'.repeat(65) } }, 'input.watermark'],
  ['watermark not a string', { input: { prompt: 'x', watermark: 5 } }, 'input.watermark'],
  ['seed as string', { input: { prompt: 'x', seed: '5' } }, 'input.seed'],
  ['seed negative', { input: { prompt: 'x', seed: -1 } }, 'input.seed'],
  ['seed too large', { input: { prompt: 'x', seed: 4294967296 } }, 'input.seed'],
  ['seed fractional', { input: { prompt: 'x', seed: 1.5 } }, 'input.seed'],
  ['enableTranslation not boolean', { input: { prompt: 'x', enableTranslation: 'yes' } }, 'input.enableTranslation'],
  ['bad request_type', { request_type: 'sync', input: { prompt: 'x' } }, 'request_type'],
  ['callback without url', { request_type: 'callback', input: { prompt: 'x' } }, 'callback_url'],
  ['bad provider', { provider: 'cheap', input: { prompt: 'x' } }, 'provider'],
  ['body is an array', [1, 2], 'body'],
];

/** A task id of the right shape, in place of the seed page's placeholder `task_id_from_previous_veo_3_1_generation`. */
const SOURCE = '0190a1b2c3d47e5f8a9b0c1d2e3f4a5b';

/**
 * The request bodies of the seed page (APIXO's veo-3-1-extend page, ../shared/seed/), verbatim but
 * for the placeholder task id, and the seed's veo-3-1 quickstart body.
 */
export const SEED_BODIES: ReadonlyArray<readonly ['veo-3-1' | 'veo-3-1-extend', Record<string, unknown>]> = [
  ['veo-3-1', { request_type: 'async', input: { prompt: 'a calm sea', mode: 'fast' } }],
  [
    'veo-3-1-extend',
    { request_type: 'async', input: { taskId: SOURCE, mode: 'fast', prompt: 'continue this scene with a smooth camera move and richer visual rhythm' } },
  ],
  [
    'veo-3-1-extend',
    { request_type: 'async', input: { taskId: SOURCE, mode: 'fast', prompt: 'continue the action into a tense chase through narrow streets' } },
  ],
  [
    'veo-3-1-extend',
    {
      request_type: 'async',
      input: { taskId: SOURCE, mode: 'quality', prompt: 'extend this scene into a dramatic sunset over the city skyline', watermark: 'BrandName', seed: 1234 },
    },
  ],
  [
    'veo-3-1-extend',
    {
      request_type: 'callback',
      callback_url: 'https://your-server.com/webhooks/apixo',
      input: { taskId: SOURCE, mode: 'quality', prompt: 'continue the shot with calmer pacing and a wide establishing view', seed: 1234 },
    },
  ],
];

/** `veo-3-1-extend` bodies the route refuses with a 400 before it looks the source up, and the field it names. */
export const BAD_EXTEND_BODIES: ReadonlyArray<readonly [name: string, body: unknown, field: string]> = [
  ['no input', {}, 'input'],
  ['missing taskId', { input: { prompt: 'more' } }, 'input.taskId'],
  // The seed page's placeholder itself is no task id.
  ['placeholder taskId', { input: { taskId: 'task_id_from_previous_veo_3_1_generation', prompt: 'more' } }, 'input.taskId'],
  ['numeric prompt', { input: { taskId: SOURCE, prompt: 7 } }, 'input.prompt'],
  ['missing prompt', { input: { taskId: SOURCE } }, 'input.prompt'],
  ['bad mode', { input: { taskId: SOURCE, prompt: 'more', mode: 'turbo' } }, 'input.mode'],
  ['seed too large', { input: { taskId: SOURCE, prompt: 'more', seed: 4294967296 } }, 'input.seed'],
  ['watermark too long', { input: { taskId: SOURCE, prompt: 'more', watermark: 'w'.repeat(65) } }, 'input.watermark'],
  ['bad request_type', { request_type: 'sync', input: { taskId: SOURCE, prompt: 'more' } }, 'request_type'],
];

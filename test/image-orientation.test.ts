import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImageServer, startImageServer } from './support/image-server.js';
import { orientedJpeg } from './support/images.js';
import { frameAt, meanRgb, probe } from './support/media.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';

/**
 * A portrait phone photo is usually stored as landscape pixels plus EXIF orientation 6. The
 * service must see it as the viewer does: portrait, so `aspect_ratio: auto` picks 9:16, and the
 * picture the right way up.
 */
describe('input images with EXIF orientation', () => {
  let t: TestService;
  let images: ImageServer;

  beforeAll(async () => {
    // Stored 1280×720 (red top, blue bottom); displayed 720×1280 (blue left, red right).
    images = await startImageServer({ 'portrait.jpg': await orientedJpeg(1280, 720, 6) });
    t = await startTestService({ LONGSHOT_ALLOW_PRIVATE_IMAGE_URLS: 'true' });
  });

  afterAll(async () => {
    await t?.close();
    await images?.close();
  });

  it('aspect_ratio auto follows the displayed orientation: a 720×1280 video, the right way up', async () => {
    const res = await t.api('POST', '/api/v1/generateTask/veo-3-1', {
      body: {
        input: {
          prompt: 'a calm portrait, push in',
          mode: 'fast',
          generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO',
          aspect_ratio: 'auto',
          image_urls: [`${images.url}/portrait.jpg`],
        },
      },
    });
    expect(res.status).toBe(200);
    const data = await waitForTask(t, 'veo-3-1', res.body.data.taskId);
    expect(data.state, JSON.stringify(data)).toBe('success');

    const video = await fetch(JSON.parse(data.resultJson).resultUrls[0]);
    const path = join(t.dataDir, 'portrait.mp4');
    await writeFile(path, Buffer.from(await video.arrayBuffer()));
    const p = await probe(path);
    expect([p.video.width, p.video.height]).toEqual([720, 1280]);

    // The first frame shows the whole image: blue on the left, red on the right.
    const first = await frameAt(path, 0);
    const [lr, , lb] = meanRgb(first, { x: 0, y: 0, w: 240, h: 1280 });
    const [rr, , rb] = meanRgb(first, { x: 480, y: 0, w: 240, h: 1280 });
    expect(lb).toBeGreaterThan(lr + 100);
    expect(rr).toBeGreaterThan(rb + 100);
  });
});

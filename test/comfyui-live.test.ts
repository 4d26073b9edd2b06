import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_TEMPLATES_DIR, loadTemplates } from '../src/engines/comfyui/template.js';
import { probe } from './support/media.js';
import type { TestService } from './support/service.js';

/**
 * The optional live test (docs/comfyui.md, tests): a real text to video on a real ComfyUI with a
 * shipped template, the proof the fake cannot give. It runs only when `LONGSHOT_TEST_COMFYUI_URL`
 * names a server that has the template's nodes and models; `LONGSHOT_TEST_COMFYUI_TOKEN` (a token
 * proxy's bearer) and `LONGSHOT_TEST_COMFYUI_TEMPLATE` (default `wan22-ti2v-5b`, or `ltxv-t2v`)
 * are optional. It is skipped when the URL is unset, under `CI=true` too: a GPU is not a service
 * CI brings up, so unlike PostgreSQL or Redis (test/support/requires.ts) its absence is not a fault.
 * The service helpers are imported only when it runs: they check CI's databases on import.
 */
const URL_ = process.env.LONGSHOT_TEST_COMFYUI_URL;
const TEMPLATE = process.env.LONGSHOT_TEST_COMFYUI_TEMPLATE || 'wan22-ti2v-5b';
/** A GPU renders a 5 s clip in minutes; a cold start loads tens of GB of weights first. */
const RENDER_MS = 60 * 60_000;

describe.skipIf(!URL_)('a real ComfyUI (LONGSHOT_TEST_COMFYUI_URL)', () => {
  let t: TestService;
  let waitForTask: typeof import('./support/service.js').waitForTask;

  beforeAll(async () => {
    const service = await import('./support/service.js');
    waitForTask = service.waitForTask;
    const engine = {
      type: 'comfyui',
      baseUrl: URL_,
      templates: [TEMPLATE],
      ...(process.env.LONGSHOT_TEST_COMFYUI_TOKEN ? { token: process.env.LONGSHOT_TEST_COMFYUI_TOKEN } : {}),
    };
    t = await service.startTestService({
      LONGSHOT_ENGINES: JSON.stringify({ live: engine }),
      LONGSHOT_ROUTES: 'official=live;value=live;auto=live',
      LONGSHOT_UPSTREAM_DEADLINE_SECONDS: String(RENDER_MS / 1000),
      LONGSHOT_UPSTREAM_HARD_LIMIT_SECONDS: String((2 * RENDER_MS) / 1000),
      LONGSHOT_WORKERS: '1',
    });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  it(
    `renders text to video with ${TEMPLATE}: an H.264/AAC MP4 of the template's frames`,
    async () => {
      const standing = t.service.deps.health.standing('live');
      expect(standing.available, standing.reason ?? '').toBe(true);
      const template = loadTemplates(BUILT_IN_TEMPLATES_DIR).get(TEMPLATE)!;
      const res = await t.api('POST', '/api/v1/generateTask/veo-3-1', {
        body: { provider: 'official', input: { prompt: 'a red kite over a green hill, slow pan', mode: 'fast', seed: 7 } },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const data = await waitForTask(t, 'veo-3-1', res.body.data.taskId, undefined, RENDER_MS);
      expect(data.state, JSON.stringify(data)).toBe('success');
      const path = join(t.dataDir, 'comfy-live.mp4');
      await writeFile(path, Buffer.from(await (await fetch(JSON.parse(data.resultJson).resultUrls[0])).arrayBuffer()));
      const p = await probe(path);
      const [w, h] = template.shape.sizes['16:9'];
      expect(p.video).toMatchObject({ codec: 'h264', width: w, height: h, fps: 24, pixFmt: 'yuv420p' });
      expect(p.audio).toMatchObject({ codec: 'aac', sampleRate: 48000 });
      // The contract's MP4 is 24 fps; a template rendering at another rate is resampled to it.
      const frames = Math.round((template.shape.frames * 24) / template.shape.fps);
      expect(Math.abs(p.video.frames - frames)).toBeLessThanOrEqual(template.shape.fps === 24 ? 0 : 1);
    },
    RENDER_MS + 60_000,
  );
});

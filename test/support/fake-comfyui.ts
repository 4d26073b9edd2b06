import { execFile } from 'node:child_process';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { type WebSocket, WebSocketServer } from 'ws';
import { resolveFfmpeg } from '../../src/engines/ffmpeg.js';

/**
 * A stand-in for a ComfyUI server over real HTTP and WebSocket, speaking the documented protocol
 * (docs.comfy.org, server routes and messages; every route also under `/api`):
 * - `POST /prompt {prompt, prompt_id?, client_id?}` validates each node against its object_info
 *   (unknown node type → 400 `invalid_prompt`; a missing input, a value not in a list or below a
 *   minimum → 400 with `node_errors`), else queues it → `{prompt_id, number, node_errors: {}}`;
 * - `GET /queue` → `{queue_running, queue_pending}` of `[number, prompt_id, prompt, extra, outputs]`;
 *   `POST /queue {delete}`; `GET /history/{id}` → `{}` until finished and for unknown ids;
 *   `POST /history {delete}`; `POST /interrupt {prompt_id?}`; `GET /view?filename&subfolder&type`;
 *   `GET /object_info` (test/support/comfyui-object-info.json, model lists from `models`);
 *   `GET /models/{folder}`; `POST /upload/image` (multipart: `image` file, `overwrite`, `type`,
 *   `subfolder`) → `{name, subfolder, type}`, a taken name without `overwrite` renamed `name (1).ext`;
 *   uploaded files fill `LoadImage`'s list, so a workflow naming a file never uploaded is refused;
 * - `WS /ws?clientId=` → `status`, then for that client's prompts `execution_start`, `executing`,
 *   `progress {value, max, node, prompt_id}`, `executed`, `execution_success` (or
 *   `execution_interrupted`), `executing {node: null}`.
 * - with `jobsApi` (newer cores): `GET /api/jobs` → `{jobs, pagination}`; `GET /api/jobs/{id}` → the
 *   job as `comfy_execution/jobs.py` `get_job` makes it: looked up in the history first (status
 *   `completed`, `failed`, or `cancelled` when interrupted; with `outputs`, `execution_status`,
 *   `execution_error`), then the running (`in_progress`) and pending (`pending`) prompts, else 404;
 *   `POST /api/jobs/{id}/cancel` (stops the prompt running or waiting); without it those are 404,
 *   as on an older core.
 * A prompt "executes" one at a time: each sampler pass (KSampler, or KSamplerAdvanced from
 * `start_at_step` to `end_at_step`) reports its steps `stepMs` apart, then ffmpeg renders a test
 * picture of the bound length, size and fps as SaveVideo's MP4 (no sound). The latent node's
 * `start_image` (LTXVImgToVideo's `image`) / `end_image`, when linked to a LoadImage, become the first / last frame, so a
 * test can tell that an uploaded image was used and where. A WanVaceToVideo prompt renders its
 * `reference_image` (scaled and centre-cropped to the size, as the node does) as every frame, and
 * its latent is one frame longer per reference (4 video frames, grey, at the start) unless the
 * VAEDecode reads a TrimVideoLatent that cuts them, so a forgotten trim shows in the frame count. A
 * sampler fed by an LTXVAddGuide renders the guide's frames (its IMAGE batch: a LoadImage, or
 * ImageBatch chains of them, in order, cut to 8n+1) at its frame_idx, and 8 grey frames more per
 * guide latent at the end unless the VAEDecode reads an LTXVCropGuides. A prompt whose positive text contains
 * `fake:hold` (or any, while `hold` is set) stays at its first step until interrupted, released
 * or `restart()`. One whose text contains `fake:error` fails at its sampler's first step with an
 * `execution_error` (node, class, exception), as a node that raises does.
 */
export interface FakeComfy {
  url: string;
  /** Installed model files per folder (edit to add or remove one). */
  models: Map<string, string[]>;
  /** Every accepted prompt, by id. */
  prompts: Map<string, any>;
  /** Every `POST /upload/image`: the name asked for, the name given, `overwrite` and the bytes. */
  uploads: { asked: string; name: string; overwrite: string | null; bytes: Buffer }[];
  /** Bodies of `POST /interrupt`. */
  interrupts: any[];
  /** Prompt ids of `POST /queue {delete}` and of `POST /api/jobs/{id}/cancel`. */
  queueDeletes: string[];
  jobCancels: string[];
  /** Per executed prompt, the input files its latent node's start and last frame came from. */
  framesFrom: Map<string, { start: string | null; end: string | null }>;
  /** Per executed WanVaceToVideo prompt, the input file its `reference_image` came from. */
  referenceFrom: Map<string, string>;
  /** Per executed prompt whose sampler reads an LTXVAddGuide: the input files of the guide frames kept, in order, and where they went. */
  guidesFrom: Map<string, { files: string[]; frameIdx: number; cropped: boolean }>;
  historyDeletes: string[];
  /** Progress messages sent, by prompt id. */
  progressSent: Map<string, number>;
  stepMs: number;
  /** Running prompts stay at their first step until `release()` (or `hold = false`). */
  hold: boolean;
  release(): void;
  /** `GET /queue` answers given. */
  polls: number;
  /** Every request as `METHOD /path` (without the `/api` prefix of the core routes, without the query). */
  requests: string[];
  /** The `clientId` of every WebSocket that connected. */
  wsClients: string[];
  /** While set, every connection is dropped unanswered: the machine is down or unreachable. */
  down: boolean;
  /** Whether the jobs API answers (`jobsApi` at start; clear it to play a core downgraded while running). */
  jobsApi: boolean;
  /** Forgets the queue and history, drops sockets and stops the running prompt: ComfyUI restarted. */
  restart(): void;
  close(): Promise<void>;
}

const OBJECT_INFO = JSON.parse(readFileSync(new URL('./comfyui-object-info.json', import.meta.url), 'utf8')) as Record<string, any>;
const HOLD = 'fake:hold';
const ERROR = 'fake:error';

interface Queued {
  number: number;
  id: string;
  prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }>;
  clientId: string | null;
  abort: AbortController;
}

type Prompt = Record<string, { class_type: string; inputs: Record<string, unknown> }>;

/** The input files an IMAGE link carries, in batch order: a LoadImage's file, or an ImageBatch's image1 then image2. */
function imageFiles(prompt: Prompt, link: unknown): string[] {
  if (!Array.isArray(link)) return [];
  const node = prompt[String(link[0])];
  if (node?.class_type === 'LoadImage') return [String(node.inputs.image)];
  if (node?.class_type === 'ImageBatch') return [...imageFiles(prompt, node.inputs.image1), ...imageFiles(prompt, node.inputs.image2)];
  return [];
}

/**
 * The LTXVAddGuide a sampler reads its latent from, as comfy_extras/nodes_lt.py applies it: the
 * guide clip cut to 8n+1 frames, a negative frame_idx counted from the end, a clip of several
 * frames moved to an index 8n+1 (or 0); and whether the VAEDecode reads an LTXVCropGuides.
 */
function guideOf(prompt: Prompt, samplers: string[]): { files: string[]; frameIdx: number; cropped: boolean } | null {
  const sampler = samplers.map((id) => prompt[id]!).find((n) => Array.isArray(n.inputs.latent_image));
  const link = sampler?.inputs.latent_image as unknown[] | undefined;
  const guide = link ? prompt[String(link[0])] : undefined;
  if (guide?.class_type !== 'LTXVAddGuide' || link?.[1] !== 2) return null;
  const all = imageFiles(prompt, guide.inputs.image);
  const files = all.slice(0, Math.floor((all.length - 1) / 8) * 8 + 1);
  const latentLink = guide.inputs.latent as unknown[];
  const length = Number(prompt[String(latentLink[0])]?.inputs.length);
  let idx = Number(guide.inputs.frame_idx);
  if (idx < 0) idx = Math.max((Math.floor((length - 1) / 8) + 1 - 1) * 8 + 1 + idx, 0);
  if (files.length > 1 && idx !== 0) idx = Math.floor((idx - 1) / 8) * 8 + 1;
  const decoder = Object.values(prompt).find((n) => n.class_type === 'VAEDecode');
  const from = decoder ? prompt[String((decoder.inputs.samples as unknown[])[0])] : undefined;
  return { files, frameIdx: idx, cropped: from?.class_type === 'LTXVCropGuides' };
}

export async function startFakeComfy(opts: { token?: string; jobsApi?: boolean } = {}): Promise<FakeComfy> {
  const outDir = await mkdtemp(join(tmpdir(), 'fake-comfy-'));
  const ffmpeg = resolveFfmpeg();
  const history = new Map<string, any>();
  let pending: Queued[] = [];
  let running: Queued | null = null;
  let counter = 0;
  let generation = 0;
  const sockets = new Map<WebSocket, string>();
  /** Files in the input folder, as LoadImage lists them (`sub/name` for a subfolder). */
  const inputFiles = new Set<string>();

  const fake: FakeComfy = {
    url: '',
    models: new Map([
      ['diffusion_models', ['wan2.2_ti2v_5B_fp16.safetensors']],
      ['text_encoders', ['umt5_xxl_fp8_e4m3fn_scaled.safetensors']],
      ['vae', ['wan2.2_vae.safetensors']],
    ]),
    prompts: new Map(),
    uploads: [],
    interrupts: [],
    queueDeletes: [],
    jobCancels: [],
    framesFrom: new Map(),
    referenceFrom: new Map(),
    guidesFrom: new Map(),
    historyDeletes: [],
    progressSent: new Map(),
    stepMs: 30,
    hold: false,
    release() {
      fake.hold = false;
    },
    polls: 0,
    requests: [],
    wsClients: [],
    down: false,
    jobsApi: opts.jobsApi ?? false,
    restart() {
      generation++;
      history.clear();
      pending = [];
      running?.abort.abort();
      running = null;
      for (const ws of sockets.keys()) ws.terminate();
      sockets.clear();
    },
    close: async () => {
      fake.restart();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await rm(outDir, { recursive: true, force: true });
    },
  };

  const objectInfo = (): Record<string, any> => {
    const info = structuredClone(OBJECT_INFO);
    delete info._source;
    for (const node of Object.values(info)) {
      for (const group of ['required', 'optional']) {
        for (const spec of Object.values<any[]>(node.input[group] ?? {})) {
          if (typeof spec[0] === 'string' && spec[0].startsWith('$models/')) spec[0] = [...(fake.models.get(spec[0].slice(8)) ?? [])];
          else if (spec[0] === '$input') spec[0] = [...inputFiles].sort();
        }
      }
    }
    return info;
  };

  function send(clientId: string | null, type: string, data: Record<string, unknown>): void {
    const text = JSON.stringify({ type, data });
    for (const [ws, id] of sockets) if (clientId === null || id === clientId) ws.send(text);
  }

  /** ComfyUI's validation: errors per node, or a whole-prompt error for an unknown node type. */
  function validate(prompt: Queued['prompt']): { error: any; node_errors: Record<string, any> } | null {
    const info = objectInfo();
    const nodeErrors: Record<string, any> = {};
    for (const [id, node] of Object.entries(prompt)) {
      const def = info[node.class_type];
      if (!def) {
        return {
          error: {
            type: 'invalid_prompt',
            message: `Cannot execute because node ${node.class_type} does not exist.`,
            details: `Node ID '#${id}'`,
            extra_info: {},
          },
          node_errors: {},
        };
      }
      const errors: any[] = [];
      for (const [name, spec] of Object.entries<any[]>(def.input.required ?? {})) {
        const value = node.inputs[name];
        if (value === undefined) {
          errors.push({ type: 'required_input_missing', message: 'Required input is missing', details: name, extra_info: { input_name: name } });
          continue;
        }
        if (Array.isArray(value)) continue; // a link
        if (Array.isArray(spec[0]) && !spec[0].includes(value))
          errors.push({
            type: 'value_not_in_list',
            message: 'Value not in list',
            details: `${name}: '${String(value)}' not in ${JSON.stringify(spec[0])}`,
            extra_info: { input_name: name },
          });
        const min = spec[1]?.min;
        if (typeof value === 'number' && typeof min === 'number' && value < min)
          errors.push({
            type: 'value_smaller_than_min',
            message: `Value ${value} smaller than min of ${min}`,
            details: name,
            extra_info: { input_name: name },
          });
      }
      if (errors.length) nodeErrors[id] = { errors, dependent_outputs: [], class_type: node.class_type };
    }
    if (Object.keys(nodeErrors).length === 0) return null;
    return {
      error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: '', extra_info: {} },
      node_errors: nodeErrors,
    };
  }

  const byType = (p: Queued['prompt'], type: string) => Object.entries(p).find(([, n]) => n.class_type === type);

  async function execute(q: Queued): Promise<void> {
    const gen = generation;
    const messages: [string, Record<string, unknown>][] = [['execution_start', { prompt_id: q.id, timestamp: Date.now() }]];
    send(q.clientId, 'execution_start', { prompt_id: q.id, timestamp: Date.now() });
    // Sampler passes in the order they run: a KSamplerAdvanced fed by another runs after it.
    const samplers = Object.entries(q.prompt).filter(([, n]) => n.class_type === 'KSampler' || n.class_type === 'KSamplerAdvanced');
    const afterSampler = (n: Queued['prompt'][string]): number =>
      Array.isArray(n.inputs.latent_image) && samplers.some(([id]) => id === String((n.inputs.latent_image as unknown[])[0])) ? 1 : 0;
    samplers.sort(([, a], [, b]) => afterSampler(a) - afterSampler(b));
    const [samplerId] = samplers[0]!;
    const says = (word: string): boolean => Object.values(q.prompt).some((n) => n.class_type === 'CLIPTextEncode' && String(n.inputs.text).includes(word));
    const hold = says(HOLD);
    const interrupted = (): void => {
      if (gen !== generation) return; // restarted: the memory is gone
      messages.push(['execution_interrupted', { prompt_id: q.id, node_id: samplerId, node_type: 'KSampler', executed: [] }]);
      send(q.clientId, 'execution_interrupted', { prompt_id: q.id, node_id: samplerId, node_type: 'KSampler', executed: [] });
      history.set(q.id, { prompt: [q.number, q.id, q.prompt, {}, []], outputs: {}, status: { status_str: 'error', completed: false, messages } });
    };
    /** A node raised: ComfyUI's execution_error message, in the socket and in the history. */
    const failed = (nodeId: string, nodeType: string): void => {
      const data = {
        prompt_id: q.id,
        node_id: nodeId,
        node_type: nodeType,
        executed: [],
        exception_message: 'Allocation on device 0 would exceed allowed memory. (out of memory)',
        exception_type: 'torch.OutOfMemoryError',
        traceback: [],
        current_inputs: {},
        current_outputs: {},
        timestamp: Date.now(),
      };
      messages.push(['execution_error', data]);
      send(q.clientId, 'execution_error', data);
      history.set(q.id, { prompt: [q.number, q.id, q.prompt, {}, []], outputs: {}, status: { status_str: 'error', completed: false, messages } });
    };
    try {
      for (const [pass, [nodeId, sampler]] of samplers.entries()) {
        send(q.clientId, 'executing', { node: nodeId, display_node: nodeId, prompt_id: q.id });
        const total = Number(sampler.inputs.steps);
        const steps =
          sampler.class_type === 'KSamplerAdvanced' ? Math.min(total, Number(sampler.inputs.end_at_step)) - Number(sampler.inputs.start_at_step) : total;
        for (let step = 1; step <= steps; step++) {
          await new Promise((r) => setTimeout(r, fake.stepMs));
          if (q.abort.signal.aborted) return interrupted();
          send(q.clientId, 'progress', { value: step, max: steps, prompt_id: q.id, node: nodeId });
          fake.progressSent.set(q.id, (fake.progressSent.get(q.id) ?? 0) + 1);
          if (says(ERROR)) return failed(nodeId, sampler.class_type);
          while ((hold || fake.hold) && pass === 0 && step === 1 && !q.abort.signal.aborted) await new Promise((r) => setTimeout(r, 20));
        }
      }
      // The latent node carries the size and length: Wan's (text/image, or first-last frame), or LTX-Video's.
      const [latentId, latent] = (byType(q.prompt, 'Wan22ImageToVideoLatent') ??
        byType(q.prompt, 'WanFirstLastFrameToVideo') ??
        byType(q.prompt, 'WanVaceToVideo') ??
        byType(q.prompt, 'EmptyLTXVLatentVideo') ??
        byType(q.prompt, 'LTXVImgToVideo'))!;
      /** The input file a LoadImage linked to the latent node's `input` loads, if any. */
      const frameFile = (input: string): string | null => {
        const link = latent.inputs[input];
        if (!Array.isArray(link)) return null;
        const loader = q.prompt[String(link[0])];
        return loader?.class_type === 'LoadImage' ? String(loader.inputs.image) : null;
      };
      // LTXVImgToVideo calls its first frame `image`.
      const from = { start: frameFile('start_image') ?? frameFile('image'), end: frameFile('end_image') };
      fake.framesFrom.set(q.id, from);
      const [, create] = byType(q.prompt, 'CreateVideo')!;
      const [saveId, save] = byType(q.prompt, 'SaveVideo')!;
      const prefix = String(save.inputs.filename_prefix);
      const slash = prefix.lastIndexOf('/');
      const subfolder = slash >= 0 ? prefix.slice(0, slash) : '';
      const filename = `${prefix.slice(slash + 1)}_00001_.mp4`;
      await mkdir(join(outDir, 'output', subfolder), { recursive: true });
      const size = `${latent.inputs.width}x${latent.inputs.height}`;
      const fps = Number(create.inputs.fps);
      const images = [from.start, from.end].filter((f): f is string => f !== null);
      let total = Number(latent.inputs.length);
      let sources: string[];
      let graph: string;
      const guide = guideOf(
        q.prompt,
        samplers.map(([id]) => id),
      );
      if (guide) {
        // LTXVAddGuide appends the guide's latents to the video's and conditions frames frame_idx…
        // on them; so the guide frames are rendered there. Without an LTXVCropGuides before the
        // VAEDecode the appended latents are decoded too: 8 grey frames per guide latent at the end.
        fake.guidesFrom.set(q.id, guide);
        const k = guide.files.length;
        const at = Math.min(guide.frameIdx, total - k);
        const extra = guide.cropped ? 0 : ((k - 1) / 8 + 1) * 8;
        const frame = (i: number): string =>
          `[${i}:v]scale=${size.replace('x', ':')}:force_original_aspect_ratio=increase,crop=${size.replace('x', ':')},setsar=1,fps=${fps},format=yuv420p,trim=end_frame=1,setpts=PTS-STARTPTS[g${i}]`;
        const rest = total - k;
        const parts = [
          `[0:v]trim=end_frame=${rest},setpts=PTS-STARTPTS,format=yuv420p,split=2[pa][pb]`,
          `[pa]trim=end_frame=${at},setpts=PTS-STARTPTS[pre]`,
          `[pb]trim=start_frame=${at},setpts=PTS-STARTPTS[post]`,
          ...guide.files.map((_, i) => frame(i + 2)),
        ];
        const order = [...(at > 0 ? ['[pre]'] : []), ...guide.files.map((_, i) => `[g${i + 2}]`), '[post]', ...(extra ? ['[grey]'] : [])];
        if (extra) parts.push(`[1:v]trim=end_frame=${extra},setpts=PTS-STARTPTS,format=yuv420p[grey]`);
        if (at === 0) parts[1] = '[pa]nullsink';
        graph = `${parts.join(';')};${order.join('')}concat=n=${order.length}:v=1:a=0[out]`;
        sources = [
          '-f',
          'lavfi',
          '-i',
          `testsrc2=size=${size}:rate=${fps}:duration=${(rest + 1) / fps}`,
          '-f',
          'lavfi',
          '-i',
          `color=c=gray:size=${size}:rate=${fps}:duration=${(extra + 1) / fps}`,
          ...guide.files.flatMap((f) => ['-loop', '1', '-framerate', String(fps), '-t', String(2 / fps), '-i', join(outDir, 'input', f)]),
        ];
        total += extra;
      } else if (latent.class_type === 'WanVaceToVideo') {
        const reference = frameFile('reference_image');
        if (reference) fake.referenceFrom.set(q.id, reference);
        // The node adds one latent frame per reference picture and answers that count as trim_latent.
        const added = reference ? 1 : 0;
        const decoder = byType(q.prompt, 'VAEDecode')![1];
        const trimmer = q.prompt[String((decoder.inputs.samples as unknown[])[0])];
        const amount = trimmer?.inputs.trim_amount;
        // trim_amount is a number, or a link to the node's trim_latent (output 3).
        const linked = Array.isArray(amount) && String(amount[0]) === latentId && amount[1] === 3;
        const trim = trimmer?.class_type !== 'TrimVideoLatent' ? 0 : linked ? added : Array.isArray(amount) ? 0 : Number(amount);
        const latents = Math.floor((total - 1) / 4) + 1 + added - trim;
        const decoded = (latents - 1) * 4 + 1;
        const lead = Math.max(0, decoded - total);
        total = decoded;
        const main = reference
          ? `[1:v]scale=${size.replace('x', ':')}:force_original_aspect_ratio=increase,crop=${size.replace('x', ':')},setsar=1,fps=${fps},format=yuv420p,trim=end_frame=${total - lead},setpts=PTS-STARTPTS[m]`
          : `[0:v]trim=end_frame=${total - lead},setpts=PTS-STARTPTS,format=yuv420p[m]`;
        sources = [
          '-f',
          'lavfi',
          '-i',
          `color=c=gray:size=${size}:rate=${fps}:duration=${(total + 1) / fps}`,
          ...(reference ? ['-loop', '1', '-framerate', String(fps), '-t', String((total + 1) / fps), '-i', join(outDir, 'input', reference)] : []),
        ];
        graph =
          lead > 0 ? `[0:v]trim=end_frame=${lead},setpts=PTS-STARTPTS,format=yuv420p[g];${main};[g][m]concat=n=2:v=1:a=0[out]` : main.replace('[m]', '[out]');
      } else {
        // The test picture in the middle, each linked image as one frame at its end.
        const middle = total - images.length;
        const frame = (i: number): string =>
          `[${i}:v]scale=${size.replace('x', ':')},setsar=1,fps=${fps},format=yuv420p,trim=end_frame=1,setpts=PTS-STARTPTS[i${i}]`;
        const parts = [`[0:v]trim=end_frame=${middle},setpts=PTS-STARTPTS,format=yuv420p[m]`, ...images.map((_, i) => frame(i + 1))];
        const order = [...(from.start ? ['[i1]'] : []), '[m]', ...(from.end ? [`[i${images.length}]`] : [])];
        graph = `${parts.join(';')};${order.join('')}concat=n=${order.length}:v=1:a=0[out]`;
        sources = [
          '-f',
          'lavfi',
          '-i',
          `testsrc2=size=${size}:rate=${fps}:duration=${(middle + 1) / fps}`,
          ...images.flatMap((f) => ['-loop', '1', '-framerate', String(fps), '-t', String(2 / fps), '-i', join(outDir, 'input', f)]),
        ];
      }
      await new Promise<void>((resolve, reject) => {
        const child = execFile(
          ffmpeg,
          [
            '-y',
            '-v',
            'error',
            ...sources,
            '-filter_complex',
            graph,
            '-map',
            '[out]',
            '-frames:v',
            String(total),
            '-c:v',
            'libx264',
            '-preset',
            'ultrafast',
            '-pix_fmt',
            'yuv420p',
            '-r',
            String(fps),
            join(outDir, 'output', subfolder, filename),
          ],
          (err) => (err ? reject(err) : resolve()),
        );
        q.abort.signal.addEventListener('abort', () => child.kill('SIGKILL'), { once: true });
      });
      if (gen !== generation) return;
      const output = { images: [{ filename, subfolder, type: 'output' }], animated: [true] };
      send(q.clientId, 'executed', { node: saveId, display_node: saveId, output, prompt_id: q.id });
      messages.push(['execution_success', { prompt_id: q.id, timestamp: Date.now() }]);
      history.set(q.id, {
        prompt: [q.number, q.id, q.prompt, {}, [saveId]],
        outputs: { [saveId]: output },
        status: { status_str: 'success', completed: true, messages },
      });
      send(q.clientId, 'execution_success', { prompt_id: q.id, timestamp: Date.now() });
    } catch {
      if (q.abort.signal.aborted) interrupted();
    } finally {
      if (gen === generation) send(q.clientId, 'executing', { node: null, prompt_id: q.id });
    }
  }

  async function runQueue(): Promise<void> {
    if (running) return;
    const next = pending.shift();
    if (!next) return;
    running = next;
    const gen = generation;
    await execute(next);
    if (gen !== generation) return;
    running = null;
    send(null, 'status', { status: { exec_info: { queue_remaining: pending.length } } });
    void runQueue();
  }

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const readBody = async (req: IncomingMessage): Promise<any> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return text ? JSON.parse(text) : {};
  };
  /** A multipart/form-data body as fields and files (enough of RFC 7578 for ComfyUI's upload). */
  const readMultipart = async (req: IncomingMessage): Promise<Map<string, { filename: string | null; data: Buffer }>> => {
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(req.headers['content-type'] ?? '');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const parts = new Map<string, { filename: string | null; data: Buffer }>();
    if (!boundary) return parts;
    const delim = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
    let at = body.indexOf(delim);
    while (at >= 0) {
      const start = at + delim.length;
      if (body.subarray(start, start + 2).toString() === '--') break;
      const next = body.indexOf(delim, start);
      if (next < 0) break;
      const part = body.subarray(start + 2, next - 2); // after CRLF, before CRLF
      const split = part.indexOf('\r\n\r\n');
      const head = part.subarray(0, split).toString('utf8');
      const name = /name="([^"]*)"/.exec(head)?.[1];
      const filename = /filename="([^"]*)"/.exec(head)?.[1] ?? null;
      if (name) parts.set(name, { filename, data: part.subarray(split + 4) });
      at = next;
    }
    return parts;
  };
  const queueItem = (q: Queued) => [q.number, q.id, q.prompt, { client_id: q.clientId }, []];

  /**
   * A job as the jobs API makes it (`comfy_execution/jobs.py`: `normalize_history_item` from the
   * history first, then `normalize_queue_item` for the running and pending prompts). `full` is
   * `GET /api/jobs/{id}`'s answer (`include_outputs`: `outputs`, `execution_status`, `workflow`).
   */
  const jobOf = (id: string, full = false): Record<string, unknown> | null => {
    const h = history.get(id);
    if (h) {
      const messages: [string, any][] = h.status.messages ?? [];
      const at = (name: string) => messages.find(([n]) => n === name)?.[1];
      const end = at('execution_success') ?? at('execution_error') ?? at('execution_interrupted');
      const status = h.status.status_str === 'success' ? 'completed' : at('execution_interrupted') ? 'cancelled' : 'failed';
      const count = Object.values<any>(h.outputs).reduce((n, o) => n + (o.images?.length ?? 0), 0);
      return {
        id,
        status,
        priority: h.prompt[0],
        ...(at('execution_start') ? { execution_start_time: at('execution_start').timestamp } : {}),
        ...(end ? { execution_end_time: end.timestamp } : {}),
        ...(at('execution_error') ? { execution_error: at('execution_error') } : {}),
        outputs_count: count,
        ...(full ? { outputs: h.outputs, execution_status: h.status, workflow: { prompt: h.prompt[2], extra_data: h.prompt[3] } } : {}),
      };
    }
    const q = running?.id === id ? running : pending.find((p) => p.id === id);
    if (!q) return null;
    return { id, status: q === running ? 'in_progress' : 'pending', priority: q.number, outputs_count: 0 };
  };

  async function jobsRoute(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method === 'GET' && url.pathname === '/api/jobs') {
      const ids = [...(running ? [running.id] : []), ...pending.map((q) => q.id), ...history.keys()];
      const jobs = ids.map((id) => jobOf(id)).filter((j) => j !== null);
      const limit = Number(url.searchParams.get('limit') ?? jobs.length);
      return json(res, 200, { jobs: jobs.slice(0, limit), pagination: { offset: 0, limit, total: jobs.length } });
    }
    const m = /^\/api\/jobs\/([^/]+)(\/cancel)?$/.exec(url.pathname);
    if (!m) return json(res, 404, {});
    const id = decodeURIComponent(m[1]!);
    if (!m[2] && req.method === 'GET') return jobOf(id, true) ? json(res, 200, jobOf(id, true)) : json(res, 404, { error: 'Job not found' });
    if (!m[2] || req.method !== 'POST') return json(res, 404, {});
    await readBody(req);
    fake.jobCancels.push(id);
    if (!jobOf(id)) return json(res, 404, { error: 'not found' });
    if (running?.id === id) running.abort.abort();
    pending = pending.filter((q) => q.id !== id);
    return json(res, 200, jobOf(id) ?? { id, status: 'cancelled' });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/^\/api(?=\/)/, '');
    fake.requests.push(`${req.method} ${url.pathname.startsWith('/api/jobs') ? url.pathname : path}`);
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) return json(res, 401, { error: 'unauthorized' });
    if (req.method === 'POST' && path === '/prompt') {
      const body = await readBody(req);
      const problem = validate(body.prompt ?? {});
      if (problem) return json(res, 400, problem);
      const id = typeof body.prompt_id === 'string' ? body.prompt_id : crypto.randomUUID();
      const q: Queued = {
        number: counter++,
        id,
        prompt: body.prompt,
        clientId: typeof body.client_id === 'string' ? body.client_id : null,
        abort: new AbortController(),
      };
      fake.prompts.set(id, body.prompt);
      pending.push(q);
      send(null, 'status', { status: { exec_info: { queue_remaining: pending.length + (running ? 1 : 0) } } });
      void runQueue();
      return json(res, 200, { prompt_id: id, number: q.number, node_errors: {} });
    }
    if (path === '/queue') {
      if (req.method === 'POST') {
        const body = await readBody(req);
        if (Array.isArray(body.delete)) {
          fake.queueDeletes.push(...body.delete);
          pending = pending.filter((q) => !body.delete.includes(q.id));
        }
        if (body.clear) pending = [];
        return json(res, 200, {});
      }
      fake.polls++;
      return json(res, 200, { queue_running: running ? [queueItem(running)] : [], queue_pending: pending.map(queueItem) });
    }
    if (fake.jobsApi && url.pathname.startsWith('/api/jobs')) return jobsRoute(req, res, url);
    if (req.method === 'POST' && path === '/interrupt') {
      const body = await readBody(req);
      fake.interrupts.push(body);
      // Only the running prompt is stopped, and only when it is the one named (if one is).
      if (running && (body.prompt_id === undefined || body.prompt_id === running.id)) running.abort.abort();
      return json(res, 200, {});
    }
    if (path === '/history' && req.method === 'POST') {
      const body = await readBody(req);
      for (const id of Array.isArray(body.delete) ? body.delete : []) {
        fake.historyDeletes.push(id);
        history.delete(id);
      }
      return json(res, 200, {});
    }
    const h = /^\/history\/([^/]+)$/.exec(path);
    if (h) {
      const id = decodeURIComponent(h[1]!);
      return json(res, 200, history.has(id) ? { [id]: history.get(id) } : {});
    }
    if (req.method === 'POST' && path === '/upload/image') {
      const form = await readMultipart(req);
      const image = form.get('image');
      if (!image?.filename) return json(res, 400, {});
      const type = form.get('type')?.data.toString() || 'input';
      const subfolder = form.get('subfolder')?.data.toString() ?? '';
      const overwrite = form.get('overwrite')?.data.toString() ?? null;
      const key = (n: string): string => (subfolder ? `${subfolder}/${n}` : n);
      let name = image.filename;
      const dot = name.lastIndexOf('.');
      for (let i = 1; overwrite !== 'true' && overwrite !== '1' && inputFiles.has(key(name)); i++)
        name = `${image.filename.slice(0, dot)} (${i})${image.filename.slice(dot)}`;
      await mkdir(join(outDir, type, subfolder), { recursive: true });
      await writeFile(join(outDir, type, subfolder, name), image.data);
      if (type === 'input') inputFiles.add(key(name));
      fake.uploads.push({ asked: image.filename, name, overwrite, bytes: image.data });
      return json(res, 200, { name, subfolder, type });
    }
    if (path === '/object_info') return json(res, 200, objectInfo());
    const m = /^\/models\/([a-z0-9_]+)$/.exec(path);
    if (m) return fake.models.has(m[1]!) ? json(res, 200, fake.models.get(m[1]!)) : json(res, 404, {});
    if (path === '/view') {
      const type = url.searchParams.get('type') ?? 'output';
      const file = normalize(join(outDir, type, url.searchParams.get('subfolder') ?? '', url.searchParams.get('filename') ?? ''));
      if (!file.startsWith(join(outDir, type)) || !(await stat(file).catch(() => null))?.isFile()) return json(res, 404, {});
      res.writeHead(200, { 'content-type': 'video/mp4' });
      createReadStream(file).pipe(res);
      return;
    }
    json(res, 404, {});
  }

  const server = createServer((req, res) => {
    if (fake.down) return void req.socket.destroy();
    handle(req, res).catch((err) => json(res, 500, { error: String(err) }));
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (fake.down || url.pathname.replace(/^\/api(?=\/)/, '') !== '/ws' || (opts.token && req.headers.authorization !== `Bearer ${opts.token}`)) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const id = url.searchParams.get('clientId') ?? crypto.randomUUID();
      sockets.set(ws, id);
      fake.wsClients.push(id);
      ws.on('close', () => sockets.delete(ws));
      ws.send(JSON.stringify({ type: 'status', data: { status: { exec_info: { queue_remaining: pending.length } }, sid: id } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

/**
 * A service's settings for engines on fake ComfyUIs: the given engines and routes, polls and
 * retries fast enough for a test, a breaker that never opens, two workers.
 */
export function comfyServiceEnv(engines: Record<string, object>, routes: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    LONGSHOT_ENGINES: JSON.stringify(engines),
    LONGSHOT_ROUTES: routes,
    LONGSHOT_UPSTREAM_POLL_MS: '40',
    LONGSHOT_UPSTREAM_POLL_MAX_MS: '100',
    LONGSHOT_UPSTREAM_RETRY_MS: '20',
    LONGSHOT_UPSTREAM_RETRIES: '1',
    LONGSHOT_BREAKER_FAILURES: '1000',
    LONGSHOT_WORKERS: '2',
    ...extra,
  };
}

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GENERATION_TYPES, type GenerationType } from '../../domain/models.js';
import type { RenderJob } from '../engine.js';

/** An API-format workflow: node id → `{class_type, inputs}` (inputs are values or `[nodeId, output]` links). */
export type Workflow = Record<string, { class_type: string; inputs: Record<string, unknown> }>;

/** Where a job value goes in the workflow: `[nodeId, inputName]`. */
type Slot = readonly [string, string];

const BINDINGS = ['prompt', 'negative', 'seed', 'width', 'height', 'frames', 'fps', 'filenamePrefix'] as const;

/**
 * A model family's shape arithmetic (docs/comfyui.md): frame counts `frameStep·k + 1` (the VAE's
 * temporal compression) and sizes a multiple of `sizeMultiple` (its spatial compression times the patch).
 */
const FAMILIES = {
  wan: { frameStep: 4, sizeMultiple: 16 },
  ltxv: { frameStep: 8, sizeMultiple: 32 },
} as const;
type Family = keyof typeof FAMILIES;

/** A workflow template (docs/comfyui.md): the workflow, where the job's values go, and its model's shape. */
export interface Template {
  name: string;
  /** The model family its shape follows; null for an operator's template that names none. */
  family: Family | null;
  /** Used by an engine that does not list its `templates` (false: only when named). */
  byDefault: boolean;
  generationTypes: readonly GenerationType[];
  workflow: Workflow;
  /**
   * `startImage`, when present, takes the uploaded image's name (a `LoadImage` node's `image`);
   * `endImage` the last frame's, for a first-and-last-frame workflow (it needs `startImage`);
   * `referenceImage` the reference picture's, for a references workflow (it takes neither);
   * `sourceFrames` the `LoadImage` nodes (in order) of an extension's last source frames, for a
   * continuation conditioned on several frames (`shape.guideFrames` of them; it takes no other image).
   */
  bind: Record<(typeof BINDINGS)[number], Slot> & { startImage?: Slot; endImage?: Slot; referenceImage?: Slot; sourceFrames?: readonly Slot[] };
  negative: string;
  /** The node whose files in the history are the result. */
  output: string;
  shape: {
    frames: number;
    frameStep: number;
    fps: number;
    sizeMultiple: number;
    sizes: Record<'16:9' | '9:16', readonly [number, number]>;
    /** How many of the source's last frames a `sourceFrames` template takes (frameStep·k + 1); absent otherwise. */
    guideFrames?: number;
  };
  /** Model folder (as `GET /models/{folder}` names it) → files the workflow loads. */
  models: Record<string, readonly string[]>;
}

/** The templates shipped in the repository. */
export const BUILT_IN_TEMPLATES_DIR = fileURLToPath(new URL('../../../assets/comfyui/', import.meta.url));

export class TemplateError extends Error {}

/** template.json as read, before it is checked. */
interface TemplateJson {
  family?: unknown;
  byDefault?: unknown;
  bind?: Record<string, unknown>;
  output?: unknown;
  generationTypes?: unknown;
  negative?: unknown;
  shape?: Partial<Record<'frames' | 'frameStep' | 'fps' | 'sizeMultiple' | 'guideFrames', unknown>> & { sizes?: Record<string, unknown> };
  models?: Record<string, unknown>;
}

const isSlot = (v: unknown): v is Slot => Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'string');
const positiveInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;

/** Reads and checks one template directory (`workflow.json` + `template.json`); a fault names the file and field. */
function loadTemplate(dir: string, name: string): Template {
  const read = (file: string): unknown => {
    try {
      return JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch (err) {
      throw new TemplateError(`workflow template ${name}: ${file} cannot be read: ${(err as Error).message}`);
    }
  };
  const workflow = read('workflow.json') as Workflow;
  const meta = (read('template.json') ?? {}) as TemplateJson;
  const bad = (what: string): TemplateError => new TemplateError(`workflow template ${name}: ${what}`);
  if (typeof workflow !== 'object' || workflow === null || Array.isArray(workflow)) throw bad('workflow.json must be an API-format workflow object');
  for (const [id, node] of Object.entries(workflow)) {
    if (typeof node?.class_type !== 'string' || typeof node.inputs !== 'object' || node.inputs === null) throw bad(`node ${id} needs class_type and inputs`);
  }
  const bind = meta.bind;
  for (const key of BINDINGS) {
    const slot = bind?.[key];
    if (!isSlot(slot)) throw bad(`template.json bind.${key} must be ["nodeId", "input"]`);
    if (!workflow[slot[0]] || !(slot[1] in workflow[slot[0]]!.inputs)) throw bad(`bind.${key} names ${slot[0]}.${slot[1]}, which the workflow lacks`);
  }
  for (const key of ['startImage', 'endImage', 'referenceImage'] as const) {
    const slot = bind?.[key];
    if (slot === undefined) continue;
    if (!isSlot(slot)) throw bad(`template.json bind.${key} must be ["nodeId", "input"]`);
    if (!workflow[slot[0]] || !(slot[1] in workflow[slot[0]]!.inputs)) throw bad(`bind.${key} names ${slot[0]}.${slot[1]}, which the workflow lacks`);
  }
  const start = bind?.startImage;
  const reference = bind?.referenceImage;
  const sourceFrames = bind?.sourceFrames;
  if (sourceFrames !== undefined) {
    if (!Array.isArray(sourceFrames) || sourceFrames.length === 0 || !sourceFrames.every(isSlot))
      throw bad('template.json bind.sourceFrames must be a list of ["nodeId", "input"]');
    for (const [i, slot] of sourceFrames.entries())
      if (!workflow[slot[0]] || !(slot[1] in workflow[slot[0]]!.inputs))
        throw bad(`bind.sourceFrames[${i}] names ${slot[0]}.${slot[1]}, which the workflow lacks`);
    if (start !== undefined || reference !== undefined || bind?.endImage !== undefined)
      throw bad('bind.sourceFrames cannot come with bind.startImage, bind.endImage or bind.referenceImage (it continues a video)');
  }
  if (bind?.endImage !== undefined && start === undefined) throw bad('bind.endImage needs bind.startImage (a last frame comes with a first one)');
  if (reference !== undefined && start !== undefined) throw bad('bind.referenceImage cannot come with bind.startImage (references are not a first frame)');
  if (typeof meta.output !== 'string' || !workflow[meta.output]) throw bad('template.json output must name a node of the workflow');
  const types = meta.generationTypes;
  // A continuation from the source's frames renders extensions only, which are no generation type.
  if (sourceFrames !== undefined && !(Array.isArray(types) && types.length === 0))
    throw bad('template.json generationTypes must be [] for a template with bind.sourceFrames (it renders extensions only)');
  if (!Array.isArray(types) || (types.length === 0 && sourceFrames === undefined) || !types.every((t) => (GENERATION_TYPES as readonly unknown[]).includes(t)))
    throw bad(`template.json generationTypes must list some of ${GENERATION_TYPES.join(', ')}`);
  // A start image is one picture the video begins with: that is FIRST_AND_LAST_FRAMES_2_VIDEO
  // with one image. References (REFERENCE_2_VIDEO) are not a first frame: they go to their own
  // input (VACE's reference_image), and such a workflow renders nothing else.
  if (types.includes('REFERENCE_2_VIDEO') && reference === undefined) throw bad('generationTypes: REFERENCE_2_VIDEO needs bind.referenceImage');
  if (reference !== undefined && (types.length !== 1 || types[0] !== 'REFERENCE_2_VIDEO'))
    throw bad('generationTypes: a template with bind.referenceImage renders only REFERENCE_2_VIDEO');
  if (types.includes('FIRST_AND_LAST_FRAMES_2_VIDEO') && start === undefined) throw bad('generationTypes: FIRST_AND_LAST_FRAMES_2_VIDEO needs bind.startImage');
  if (bind?.endImage !== undefined && (types.length !== 1 || types[0] !== 'FIRST_AND_LAST_FRAMES_2_VIDEO'))
    throw bad('generationTypes: a template with bind.endImage renders only FIRST_AND_LAST_FRAMES_2_VIDEO');
  if (types.includes('TEXT_2_VIDEO') && start !== undefined)
    throw bad('generationTypes: TEXT_2_VIDEO cannot use a template with bind.startImage (it has no image)');
  const s = meta.shape ?? {};
  const int = (k: 'frames' | 'frameStep' | 'fps' | 'sizeMultiple' | 'guideFrames'): number => {
    const v = s[k];
    if (!positiveInt(v)) throw bad(`shape.${k} must be a positive integer`);
    return v;
  };
  const size = (ar: string): [number, number] => {
    const v = s.sizes?.[ar];
    if (!Array.isArray(v) || v.length !== 2 || !v.every(positiveInt)) throw bad(`shape.sizes["${ar}"] must be [width, height]`);
    return [v[0] as number, v[1] as number];
  };
  const family = meta.family ?? null;
  if (family !== null && !Object.hasOwn(FAMILIES, family as string)) throw bad(`template.json family must be one of ${Object.keys(FAMILIES).join(', ')}`);
  const shape = {
    frames: int('frames'),
    frameStep: int('frameStep'),
    fps: int('fps'),
    sizeMultiple: int('sizeMultiple'),
    sizes: { '16:9': size('16:9'), '9:16': size('9:16') },
  };
  if (sourceFrames !== undefined) {
    // The guide clip is VAE-encoded as is: LTXVAddGuide keeps only frameStep·k + 1 frames of it.
    const guide = int('guideFrames');
    if ((guide - 1) % shape.frameStep !== 0) throw bad(`shape.guideFrames must be ${shape.frameStep}n+1 (the frames a guide clip keeps)`);
    if (guide !== sourceFrames.length) throw bad(`shape.guideFrames is ${guide} but bind.sourceFrames names ${sourceFrames.length} inputs`);
    Object.assign(shape, { guideFrames: guide });
  } else if (s.guideFrames !== undefined) throw bad('shape.guideFrames needs bind.sourceFrames');
  if (family !== null) {
    // The family fixes the arithmetic: a template cannot snap Wan-style for an LTX model.
    const f = FAMILIES[family as Family];
    if (shape.frameStep !== f.frameStep) throw bad(`shape.frameStep must be ${f.frameStep} for family ${family} (frames ${f.frameStep}n+1)`);
    if (shape.sizeMultiple % f.sizeMultiple !== 0) throw bad(`shape.sizeMultiple must be a multiple of ${f.sizeMultiple} for family ${family}`);
    if ((shape.frames - 1) % f.frameStep !== 0) throw bad(`shape.frames must be ${f.frameStep}n+1 for family ${family}`);
    for (const [ar, dims] of Object.entries(shape.sizes))
      if (dims.some((d) => d % shape.sizeMultiple !== 0)) throw bad(`shape.sizes["${ar}"] must be multiples of ${shape.sizeMultiple}`);
  }
  if (meta.byDefault !== undefined && typeof meta.byDefault !== 'boolean') throw bad('template.json byDefault must be true or false');
  const models = meta.models ?? {};
  for (const [folder, files] of Object.entries(models)) {
    if (!/^[a-z0-9_]+$/.test(folder) || !Array.isArray(files) || !files.every((f) => typeof f === 'string'))
      throw bad(`models.${folder} must be a list of file names`);
  }
  return {
    name,
    family: family as Family | null,
    byDefault: meta.byDefault !== false,
    generationTypes: types as GenerationType[],
    workflow,
    bind: bind as Template['bind'],
    negative: typeof meta.negative === 'string' ? meta.negative : '',
    output: meta.output,
    shape,
    models: models as Template['models'],
  };
}

/** Every template under `dir` (one per subdirectory), by name. */
export function loadTemplates(dir: string): Map<string, Template> {
  const out = new Map<string, Template>();
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => statSync(join(dir, n)).isDirectory());
  } catch (err) {
    throw new TemplateError(`the workflows directory ${dir} cannot be read: ${(err as Error).message}`);
  }
  for (const n of names.sort()) out.set(n, loadTemplate(join(dir, n), n));
  return out;
}

/** `n` snapped to the nearest `step·k + 1` (Wan: 4n+1, LTX: 8n+1), at least `step + 1`. */
export const snapFrames = (n: number, step: number): number => Math.max(1, Math.round((n - 1) / step)) * step + 1;
/** The smallest `step·k + 1` that is at least `n`. */
const atLeastFrames = (n: number, step: number): number => Math.max(1, Math.ceil((n - 1) / step)) * step + 1;
/** `n` snapped to the nearest multiple of `m`, at least `m`. */
export const snapSize = (n: number, m: number): number => Math.max(1, Math.round(n / m)) * m;

/** What a bound workflow will render. */
export interface BoundShape {
  width: number;
  height: number;
  frames: number;
  fps: number;
}

/**
 * The template's workflow with the job's values in place (a fresh copy): the model's trained size
 * for the aspect ratio, its natural clip length, the job's seed and prompt. Output files are
 * named after the task so they can be told apart in ComfyUI's output folder.
 */
export function bindWorkflow(
  t: Template,
  job: Pick<RenderJob, 'taskId' | 'prompt' | 'seed' | 'aspectRatio'>,
  extra: { startImage?: string; endImage?: string; referenceImage?: string; sourceFrames?: readonly string[]; seconds?: number } = {},
): { workflow: Workflow; shape: BoundShape } {
  const workflow = structuredClone(t.workflow);
  const [width, height] = boundSize(t, job.aspectRatio);
  const shape: BoundShape = {
    width,
    height,
    // `seconds` asks for at least that long a clip (an extension's continuation) instead of the model's natural length.
    // A guide clip's frames come first and are cut afterwards, so the new frames follow them.
    frames:
      extra.seconds === undefined
        ? snapFrames(t.shape.frames, t.shape.frameStep)
        : atLeastFrames(extra.seconds * t.shape.fps + (t.shape.guideFrames ?? 1), t.shape.frameStep),
    fps: t.shape.fps,
  };
  const set = (slot: Slot, value: unknown): void => {
    workflow[slot[0]]!.inputs[slot[1]] = value;
  };
  set(t.bind.prompt, job.prompt);
  set(t.bind.negative, t.negative);
  set(t.bind.seed, job.seed);
  set(t.bind.width, shape.width);
  set(t.bind.height, shape.height);
  set(t.bind.frames, shape.frames);
  set(t.bind.fps, shape.fps);
  set(t.bind.filenamePrefix, `longshot/${job.taskId}`);
  if (t.bind.startImage) {
    if (extra.startImage === undefined) throw new TemplateError(`workflow template ${t.name} needs a start image`);
    set(t.bind.startImage, extra.startImage);
  }
  if (t.bind.endImage) {
    if (extra.endImage === undefined) throw new TemplateError(`workflow template ${t.name} needs a last frame`);
    set(t.bind.endImage, extra.endImage);
  }
  if (t.bind.referenceImage) {
    if (extra.referenceImage === undefined) throw new TemplateError(`workflow template ${t.name} needs a reference picture`);
    set(t.bind.referenceImage, extra.referenceImage);
  }
  if (t.bind.sourceFrames) {
    if (extra.sourceFrames?.length !== t.bind.sourceFrames.length)
      throw new TemplateError(`workflow template ${t.name} needs ${t.bind.sourceFrames.length} source frames`);
    for (const [i, slot] of t.bind.sourceFrames.entries()) set(slot, extra.sourceFrames[i]);
  }
  return { workflow, shape };
}

/** The size a bound workflow renders at: the template's trained size for the aspect ratio, snapped to its size multiple. */
export function boundSize(t: Template, aspectRatio: '16:9' | '9:16'): [number, number] {
  const [w, h] = t.shape.sizes[aspectRatio];
  return [snapSize(w, t.shape.sizeMultiple), snapSize(h, t.shape.sizeMultiple)];
}

/**
 * How many frame images a template takes: 0 (text, or references, which are no frame), 1 (a start
 * image) or 2 (a first and a last frame).
 */
export const imageCount = (t: Template): 0 | 1 | 2 => (t.bind.endImage ? 2 : t.bind.startImage ? 1 : 0);

/** The contract's most references (`REFERENCE_2_VIDEO`: 1–3 `image_urls`). */
const MAX_REFERENCES = 3;

/** Whether a template can render a task with `n` images: its frame count exactly, or 1–3 references. */
export const takesImages = (t: Template, n: number): boolean =>
  t.bind.referenceImage ? n >= 1 && n <= MAX_REFERENCES : imageCount(t) === 0 || imageCount(t) === n;

/** The node types a template needs. */
export const nodeTypes = (t: Template): string[] => [...new Set(Object.values(t.workflow).map((n) => n.class_type))].sort();

/**
 * What the ComfyUI instance lacks for the templates: node types absent from its `/object_info`
 * and model files absent from its `/models/{folder}` lists, each named exactly once with the
 * templates that need it.
 */
export function missingParts(templates: readonly Template[], objectInfo: Record<string, unknown>, models: Map<string, readonly string[]>): string[] {
  const missing = new Map<string, string[]>();
  const add = (part: string, template: string): void => {
    const names = missing.get(part) ?? [];
    if (!names.includes(template)) names.push(template);
    missing.set(part, names);
  };
  for (const t of templates) {
    for (const type of nodeTypes(t)) if (!(type in objectInfo)) add(`node ${type}`, t.name);
    for (const [folder, files] of Object.entries(t.models)) {
      const have = models.get(folder) ?? [];
      for (const f of files) if (!have.includes(f)) add(`model ${folder}/${f}`, t.name);
    }
  }
  return [...missing].map(([part, names]) => `${part} (${names.length === 1 ? 'template' : 'templates'} ${names.join(', ')})`);
}

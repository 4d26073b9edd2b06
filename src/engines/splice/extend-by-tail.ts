import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EngineFailure, RenderJob, RenderOutcome } from '../engine.js';
import { inspectMedia, type MediaFacts } from '../local/media-info.js';
import { cleanWatermarkText, watermarkFilter } from '../local/watermark.js';
import { engineFailure } from '../upstream-job.js';
import { upstreamFailure } from '../upstream-video.js';
import { type SpliceTools, spliceExtension, writeTail } from './splice.js';
import { planTail, type TailLimits, type TailPlan } from './tail-plan.js';

/**
 * The three steps an upstream that extends only short clips needs (Vertex: 1–30 s, fal: up to
 * 8 s) to extend any source (docs/vertex.md, extension of any source): where to cut, the tail's
 * bytes to send, and the splice of the upstream's answer behind the untouched head.
 */
export interface TailCut {
  plan: TailPlan;
  facts: MediaFacts;
}

/** Where an extension's source is cut: deterministic, so a resumed run plans the same cut. */
export async function planExtension(
  ffmpegPath: string,
  job: RenderJob,
  limits: TailLimits,
  upstream: string,
  signal: AbortSignal,
): Promise<TailCut | EngineFailure> {
  const facts = await inspectMedia(ffmpegPath, job.source!.path, signal);
  if (facts === null) return engineFailure('TASKID_ERROR', 'the source video cannot be read');
  const plan = planTail(facts.video, limits);
  if (plan === null) return engineFailure('TASKID_ERROR', `the source video is too short for ${upstream} to extend (under ${limits.minInputSec} s)`);
  return { plan, facts };
}

/** The tail as the MP4 bytes to send. */
export async function tailBytes(tools: SpliceTools, job: RenderJob, cut: TailCut): Promise<Buffer> {
  const tailPath = join(tools.workDir, 'upstream-tail.mp4');
  await writeTail(tools, job.source!.path, cut.facts, cut.plan, job.mode, tailPath);
  return readFile(tailPath);
}

/** Splices the upstream's answer (`returnedPath`) into the job's output, watermark included. */
export async function finishExtension(tools: SpliceTools, fontPath: string, job: RenderJob, cut: TailCut, returnedPath: string): Promise<RenderOutcome> {
  const text = cleanWatermarkText(job.watermark);
  const drawtext =
    text === null ? null : await watermarkFilter({ text, fontPath, workDir: tools.workDir, width: cut.facts.video.width, height: cut.facts.video.height });
  const spliced = await spliceExtension(tools, {
    sourcePath: job.source!.path,
    source: cut.facts,
    plan: cut.plan,
    returnedPath,
    mode: job.mode,
    drawtext,
    outVideoPath: job.outVideoPath,
    outPosterPath: job.outPosterPath,
  });
  return spliced.ok ? { ok: true, durationMs: spliced.durationMs, width: spliced.width, height: spliced.height } : upstreamFailure(spliced.message);
}

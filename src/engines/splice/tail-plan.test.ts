import { describe, expect, it } from 'vitest';
import type { VideoPacket } from '../local/media-info.js';
import { planTail, VERTEX_TAIL_LIMITS } from './tail-plan.js';

/** As an MP4 from x264 at 24 fps reads: time base 1/12288, 512 ticks per frame. */
const TIMESCALE = 12_288;
const TICKS = 512;
/** x264 with B-frames shifts presentation by two frames (the edit list's delay), so pts starts at 1024. */
const PTS_DELAY = 2;

/**
 * The display-order frames of one GOP `[g, g+len)` in decode order, as x264 with bframes=2 lays
 * them out: the I, then each P before the two Bs shown ahead of it (g, g+3, g+1, g+2, g+6, g+4,
 * g+5, …). Closed: a GOP ending on a lone B ends with its P (…, g+len-1, g+len-2).
 */
function closedGop(g: number, len: number): number[] {
  const order = [g];
  for (let first = g + 1; first < g + len; first += 3) {
    const last = Math.min(first + 2, g + len - 1);
    order.push(last);
    for (let b = first; b < last; b++) order.push(b);
  }
  return order;
}

/** Packets in decode order for frames listed in decode order, with keyframes at `keys` (display indices). */
function packets(decodeOrder: number[], keys: ReadonlySet<number>): VideoPacket[] {
  return decodeOrder.map((frame, i) => ({ dts: i * TICKS, pts: (frame + PTS_DELAY) * TICKS, key: keys.has(frame) }));
}

/** A source of `frames` frames in closed GOPs of `gop` frames (48 = 2 s). */
function source(frames: number, gop = 48) {
  const order: number[] = [];
  const keys = new Set<number>();
  for (let g = 0; g < frames; g += gop) {
    order.push(...closedGop(g, Math.min(gop, frames - g)));
    keys.add(g);
  }
  return facts(packets(order, keys), frames);
}

const facts = (list: VideoPacket[], frames: number) => ({ packets: list, timescale: TIMESCALE, durationSec: (frames * TICKS) / TIMESCALE });

/** How many packets are shown before packet `i` (its index in presentation order). */
const shownBefore = (list: VideoPacket[], i: number): number => list.filter((p) => p.pts < list[i]!.pts).length;

describe('planTail', () => {
  it('builds the decode order x264 writes', () => {
    // A check of the fixture itself: the cases below mean nothing if the layout is wrong.
    expect(closedGop(0, 10)).toEqual([0, 3, 1, 2, 6, 4, 5, 9, 7, 8]);
    expect(closedGop(48, 48).slice(-5)).toEqual([93, 91, 92, 95, 94]);
    expect([...closedGop(0, 48)].sort((a, b) => a - b)).toEqual(Array.from({ length: 48 }, (_, i) => i));
    const list = source(96).packets;
    expect(list.every((p) => p.pts >= p.dts)).toBe(true);
  });

  it('cuts a 15 s source at the latest keyframe leaving at least 4 s', () => {
    const video = source(360);
    expect(video.durationSec).toBe(15);
    const plan = planTail(video);
    // Keyframes every 2 s: the one at 12 s leaves 3 s, the one at 10 s leaves 5 s.
    expect(plan).toEqual({ cutFrame: 240, cutSec: 10, tailSec: 5, sourceSec: 15, clean: true });
    expect(video.packets[plan!.cutFrame]!.key).toBe(true);
    expect(shownBefore(video.packets, plan!.cutFrame)).toBe(plan!.cutFrame);
  });

  it('cuts a 36 s source within what the upstream takes', () => {
    const video = source(864);
    const plan = planTail(video)!;
    expect(plan.clean).toBe(true);
    expect(plan.tailSec).toBeGreaterThanOrEqual(VERTEX_TAIL_LIMITS.minTailSec);
    expect(plan.tailSec).toBeLessThanOrEqual(VERTEX_TAIL_LIMITS.maxTailSec);
    // The latest keyframe in range: 32 s leaves exactly 4 s.
    expect(plan).toMatchObject({ cutFrame: 768, cutSec: 32, tailSec: 4, sourceSec: 36 });
    expect(shownBefore(video.packets, plan.cutFrame)).toBe(768);
  });

  it('sends a 3 s source whole', () => {
    expect(planTail(source(72))).toEqual({ cutFrame: 0, cutSec: 0, tailSec: 3, sourceSec: 3, clean: true });
  });

  it('sends whole a source up to 30 s without a clean cut in range', () => {
    // One GOP of 20 s: no keyframe but the first, and 20 s is short enough to send as it is.
    expect(planTail(source(480, 480))).toEqual({ cutFrame: 0, cutSec: 0, tailSec: 20, sourceSec: 20, clean: true });
  });

  it('refuses a source shorter than the upstream accepts', () => {
    expect(planTail(source(12))).toBeNull();
    expect(planTail({ packets: [], timescale: TIMESCALE, durationSec: 10 })).toBeNull();
  });

  it('re-encodes the head of a 40 s source with one keyframe, cutting 4 s from the end', () => {
    const video = source(960, 960);
    const plan = planTail(video);
    expect(plan).toEqual({ cutFrame: 864, cutSec: 36, tailSec: 4, sourceSec: 40, clean: false });
  });

  it('does not cut cleanly at a keyframe of an open GOP', () => {
    // 15 s in 2 s GOPs, except that the GOP at 10 s (frame 240) is open: its I is decoded before
    // the last two Bs of the GOP before, which are shown before it and refer to it.
    const frames = 360;
    const order: number[] = [];
    const keys = new Set<number>();
    for (let g = 0; g < frames; g += 48) {
      order.push(...closedGop(g, 48));
      keys.add(g);
    }
    const openAt = 240;
    const i = order.indexOf(openAt);
    // Before: … 239 238 | 240 … ; after: … | 240 238 239 … (238, 239 now B-frames on 240).
    const prev = order.splice(i - 2, 2);
    expect(prev).toEqual([239, 238]);
    order.splice(i - 2 + 1, 0, 238, 239);
    const video = facts(packets(order, keys), frames);
    const cut = order.indexOf(openAt);
    expect(video.packets[cut]!.key).toBe(true);

    const plan = planTail(video)!;
    expect(plan.cutFrame).not.toBe(cut);
    // The clean cut before it: 8 s, leaving 7 s.
    expect(plan).toEqual({ cutFrame: 192, cutSec: 8, tailSec: 7, sourceSec: 15, clean: true });
  });

  it('falls back to a re-encode for a long source in open GOPs only', () => {
    // 40 s in 2 s GOPs, each I decoded before the two frames shown just before it.
    const frames = 960;
    const order: number[] = [0];
    const keys = new Set<number>([0]);
    for (let g = 48; g < frames; g += 48) keys.add(g);
    for (let f = 3; f < frames; f += 3) order.push(f, f - 2, f - 1);
    order.push(frames - 2, frames - 1);
    expect(order.length).toBe(frames);
    const video = facts(packets(order, keys), frames);
    expect(planTail(video)).toMatchObject({ cutFrame: 864, cutSec: 36, tailSec: 4, clean: false });
  });
});

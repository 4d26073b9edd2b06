import type { VideoFacts } from '../local/media-info.js';

/**
 * Where to cut a source so that an upstream which extends only short clips (Vertex: 1–30 s) can
 * extend a video of any length: the tail from the cut is sent, and the upstream's answer (the
 * tail followed by the continuation) replaces it behind the untouched head.
 */
export interface TailPlan {
  /**
   * Index of the first frame of the tail in presentation order. For a clean cut it is also the
   * index of its packet in decode order: a closed GOP makes the head the same set either way.
   */
  cutFrame: number;
  /** Presentation time of the cut from the first frame, in seconds. */
  cutSec: number;
  tailSec: number;
  sourceSec: number;
  /**
   * The cut is a clean one: a keyframe with every packet before it shown before it and every
   * packet from it on shown from it on (a closed GOP), so the head's packets can be copied as
   * they are. When false the head is decoded and encoded again.
   */
  clean: boolean;
}

export interface TailLimits {
  /** The tail aimed for: the latest clean cut leaving at least this much (default 4 s). */
  minTailSec: number;
  /** The longest clip the upstream takes. */
  maxTailSec: number;
  /** The shortest clip the upstream takes. */
  minInputSec: number;
}

export const VERTEX_TAIL_LIMITS: TailLimits = { minTailSec: 4, maxTailSec: 30, minInputSec: 1 };

/**
 * Picks the cut. Preferred: the latest clean cut whose tail is at least `minTailSec` and at most
 * `maxTailSec`. A source no longer than `minTailSec` is sent whole. Without a clean cut in range
 * (a source with long GOPs, or open ones), the cut falls on the frame `minTailSec` from the end
 * and the head is re-encoded. Returns null for a source shorter than the upstream accepts.
 */
export function planTail(video: Pick<VideoFacts, 'packets' | 'timescale' | 'durationSec'>, limits: TailLimits = VERTEX_TAIL_LIMITS): TailPlan | null {
  const { packets, timescale, durationSec } = video;
  if (packets.length === 0 || durationSec < limits.minInputSec) return null;
  let firstPts = Number.POSITIVE_INFINITY;
  for (const p of packets) firstPts = Math.min(firstPts, p.pts);
  const sec = (pts: number): number => (pts - firstPts) / timescale;
  if (durationSec <= limits.minTailSec) return { cutFrame: 0, cutSec: 0, tailSec: durationSec, sourceSec: durationSec, clean: true };

  // Prefix maximum and suffix minimum of pts over decode order make each candidate O(1).
  const n = packets.length;
  const prefixMax: number[] = new Array<number>(n);
  const suffixMin: number[] = new Array<number>(n);
  for (let i = 0, m = Number.NEGATIVE_INFINITY; i < n; i++) prefixMax[i] = m = Math.max(m, packets[i]!.pts);
  for (let i = n - 1, m = Number.POSITIVE_INFINITY; i >= 0; i--) suffixMin[i] = m = Math.min(m, packets[i]!.pts);

  let best: TailPlan | null = null;
  for (let i = 1; i < n; i++) {
    const p = packets[i]!;
    if (!p.key || prefixMax[i - 1]! >= p.pts || suffixMin[i]! < p.pts) continue;
    const tailSec = durationSec - sec(p.pts);
    if (tailSec < limits.minTailSec || tailSec > limits.maxTailSec) continue;
    // Later cuts have shorter tails: keep the last one in range.
    if (!best || tailSec < best.tailSec) best = { cutFrame: i, cutSec: sec(p.pts), tailSec, sourceSec: durationSec, clean: true };
  }
  if (best) return best;
  if (durationSec <= limits.maxTailSec) return { cutFrame: 0, cutSec: 0, tailSec: durationSec, sourceSec: durationSec, clean: true };

  // No clean cut in range: cut at the last frame that leaves at least minTailSec; the head is re-encoded.
  const order = packets.map((p) => p.pts).sort((a, b) => a - b);
  const target = durationSec - limits.minTailSec;
  let frame = 0;
  while (frame + 1 < order.length && sec(order[frame + 1]!) <= target + 1e-6) frame++;
  const cutSec = sec(order[frame]!);
  return { cutFrame: frame, cutSec, tailSec: durationSec - cutSec, sourceSec: durationSec, clean: false };
}

import { describe, expect, it } from 'vitest';
import { escapeFilterValue, GraphBuilder, q } from './graph.js';
import { parseFramecrc } from './media-info.js';
import { num } from './prng.js';
import { cleanWatermarkText } from './watermark.js';

describe('filtergraph text', () => {
  it('escapes a value for both the option and the graph parser', () => {
    expect(escapeFilterValue('/tmp/a b/font.ttf')).toBe('/tmp/a b/font.ttf');
    // ' → \' (option level) → \\\' (graph level: the backslash and the quote escaped again)
    expect(escapeFilterValue("it's")).toBe("it\\\\\\'s");
    expect(escapeFilterValue('a:b')).toBe('a\\\\:b');
    expect(escapeFilterValue('a,b;c[d]')).toBe('a\\,b\\;c\\[d\\]');
  });

  it('refuses expressions it cannot quote', () => {
    expect(() => q("a'b")).toThrow();
    expect(() => q('a:b')).toThrow();
    expect(q('if(lt(X,1),0,1)')).toBe("'if(lt(X,1),0,1)'");
  });

  it('writes numbers without exponents and without noise', () => {
    expect(num(1e-7)).toBe('0');
    expect(num(-0.00001)).toBe('0');
    expect(num(2.5)).toBe('2.5');
    expect(num(1234567.891, 2)).toBe('1234567.89');
  });

  it('labels chains uniquely', () => {
    const g = new GraphBuilder();
    const a = g.source(['nullsrc']);
    const b = g.chain(a, ['null']);
    expect(a).not.toBe(b);
    expect(g.toString()).toBe(`nullsrc${a};${a}null${b}`);
  });
});

describe('watermark text', () => {
  it('collapses control characters and trims', () => {
    expect(cleanWatermarkText('  a\nb\t c  ')).toBe('a b c');
    expect(cleanWatermarkText(' \n ')).toBeNull();
    expect(cleanWatermarkText(null)).toBeNull();
  });
});

describe('framecrc facts', () => {
  it('reads streams, headers and durations', () => {
    const text = [
      '#extradata 0:       41, 0xe2b80b0a',
      '#tb 0: 1/12288',
      '#media_type 0: video',
      '#codec_id 0: h264',
      '#dimensions 0: 1280x720',
      '#tb 1: 1/48000',
      '#media_type 1: audio',
      '#codec_id 1: aac',
      '#sample_rate 1: 48000',
      '#channel_layout_name 1: stereo',
      '0,      -1024,          0,      512,    33520, 0xcb6e05f8',
      '1,      -1024,      -1024,     1024,      320, 0x1b4f906f, F=0x5, S=1,       10, 0x00240004',
      '0,       -512,       1024,      512,    22909, 0xde85cca9, F=0x0',
      '0,          0,        512,      512,    23895, 0x53a295a9, F=0x0',
      '1,          0,          0,     1024,      345, 0x8deea238',
    ].join('\n');
    const facts = parseFramecrc(text);
    expect(facts?.video).toMatchObject({ codec: 'h264', width: 1280, height: 720, timescale: 12288, frames: 3, extradata: '41, 0xe2b80b0a' });
    expect(facts?.video.durationSec).toBeCloseTo(1536 / 12288, 9);
    expect(facts?.audio).toEqual({ codec: 'aac', sampleRate: 48000, channels: 'stereo' });
  });
});

import { describe, expect, it } from 'vitest';
import { probeImage } from './image-probe.js';

const u16be = (n: number): number[] => [n >> 8, n & 0xff];
const u32be = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const u24le = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff];
const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];

const png = (w: number, h: number): Buffer =>
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...u32be(13), ...ascii('IHDR'), ...u32be(w), ...u32be(h), 8, 2, 0, 0, 0]);

/** SOI, an APP0 segment, fill bytes, then a frame header with the given SOF marker. */
const jpeg = (sof: number, w: number, h: number): Buffer =>
  Buffer.from([
    0xff,
    0xd8,
    0xff,
    0xe0,
    ...u16be(16),
    ...ascii('JFIF\0'),
    1,
    1,
    0,
    0,
    1,
    0,
    1,
    0,
    0,
    0xff,
    0xff,
    sof,
    ...u16be(17),
    8,
    ...u16be(h),
    ...u16be(w),
    3,
    1,
    0x22,
    0,
    2,
    0x11,
    1,
    3,
    0x11,
    1,
  ]);

const riff = (chunk: string, data: number[]): Buffer =>
  Buffer.from([...ascii('RIFF'), ...[0, 0, 0, 0], ...ascii('WEBP'), ...ascii(chunk), ...[data.length, 0, 0, 0], ...data]);

describe('probeImage', () => {
  it('reads PNG IHDR', () => {
    expect(probeImage(png(1920, 1080))).toEqual({ ok: true, mime: 'image/png', width: 1920, height: 1080 });
  });

  it('reads baseline and progressive JPEG frame headers after other segments', () => {
    expect(probeImage(jpeg(0xc0, 1280, 720))).toEqual({ ok: true, mime: 'image/jpeg', width: 1280, height: 720 });
    expect(probeImage(jpeg(0xc2, 720, 1280))).toEqual({ ok: true, mime: 'image/jpeg', width: 720, height: 1280 });
  });

  it('does not mistake DHT (C4) for a frame header', () => {
    const b = jpeg(0xc4, 100, 100);
    expect(probeImage(b).ok).toBe(false);
  });

  it('reads WebP VP8X canvas size (24-bit)', () => {
    const b = riff('VP8X', [0x10, 0, 0, 0, ...u24le(4095), ...u24le(2999)]);
    expect(probeImage(b)).toEqual({ ok: true, mime: 'image/webp', width: 4096, height: 3000 });
  });

  it('reads WebP VP8L size (14-bit, minus one)', () => {
    const bits = (640 - 1) | ((480 - 1) << 14);
    const b = riff('VP8L', [0x2f, bits & 0xff, (bits >> 8) & 0xff, (bits >> 16) & 0xff, (bits >>> 24) & 0xff]);
    expect(probeImage(b)).toEqual({ ok: true, mime: 'image/webp', width: 640, height: 480 });
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['HTML', Buffer.from('<!doctype html><title>x</title>')],
    ['GIF', Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00', 'latin1')],
    ['truncated PNG', png(10, 10).subarray(0, 20)],
    ['PNG with zero width', png(0, 10)],
    ['JPEG with no frame header', Buffer.from([0xff, 0xd8, 0xff, 0xd9])],
    ['truncated JPEG', jpeg(0xc0, 10, 10).subarray(0, 25)],
    ['JPEG with garbage after SOI', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x41])],
    ['WebP with an unknown chunk', riff('ABCD', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0])],
    ['WebP VP8 without start code', riff('VP8 ', [0, 0, 0, 1, 2, 3, 10, 0, 10, 0])],
    ['RIFF that is not WebP', Buffer.from('RIFF\0\0\0\0WAVEfmt ', 'latin1')],
  ])('refuses %s', (_name, bytes) => {
    expect(probeImage(bytes).ok).toBe(false);
  });
});

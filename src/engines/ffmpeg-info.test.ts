import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locateFfmpeg } from './ffmpeg.js';
import { BUNDLED_FFMPEG_WARNING, describeFfmpeg, logFfmpeg, parseFfmpegVersion } from './ffmpeg-info.js';

const BUNDLED = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;

let dir = '';
let pathDir = '';
let linkDir = '';
let notFfmpegDir = '';

/** An executable `ffmpeg` in `d` that prints `text`, standing for a distribution's ffmpeg. */
async function fakeFfmpeg(d: string, text: string): Promise<string> {
  const path = join(d, 'ffmpeg');
  await writeFile(path, `#!/bin/sh\nprintf '%s\\n' '${text}'\n`);
  await chmod(path, 0o755);
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ffmpeg-info-'));
  pathDir = await mkdtemp(join(dir, 'path-'));
  linkDir = await mkdtemp(join(dir, 'link-'));
  notFfmpegDir = await mkdtemp(join(dir, 'other-'));
  await fakeFfmpeg(pathDir, 'ffmpeg version 7.1.1 Copyright (c) 2000-2025 the FFmpeg developers');
  await fakeFfmpeg(notFfmpegDir, 'hello');
  await symlink(BUNDLED, join(linkDir, 'ffmpeg'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseFfmpegVersion', () => {
  it.each([
    [
      'ffmpeg version N-47683-g0e8eb07980-static https://johnvansickle.com/ffmpeg/  Copyright (c) 2000-2018 the FFmpeg developers\nbuilt with gcc 6.3.0',
      'N-47683-g0e8eb07980-static',
    ],
    ['ffmpeg version 6.1.1-3ubuntu5 Copyright (c) 2000-2023 the FFmpeg developers\n', '6.1.1-3ubuntu5'],
    ['\r\nffmpeg version n7.1 Copyright (c) 2000-2024 the FFmpeg developers\r\nbuilt with clang', 'n7.1'],
    ['ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024 the FFmpeg developers', '5.1.6-0+deb12u1'],
  ])('reads the version from %j', (output, version) => {
    expect(parseFfmpegVersion(output)).toEqual({ line: output.trim().split(/\r?\n/)[0], version });
  });

  it("has no version for output that is not ffmpeg's", () => {
    expect(parseFfmpegVersion('')).toBeNull();
    expect(parseFfmpegVersion('ffprobe version 4.2 Copyright')).toEqual({ line: 'ffprobe version 4.2 Copyright', version: null });
  });
});

describe('locateFfmpeg', () => {
  it('takes the configured path first, then PATH, then the bundled build', () => {
    expect(locateFfmpeg('/opt/ffmpeg/bin/ffmpeg', pathDir)).toEqual({ path: '/opt/ffmpeg/bin/ffmpeg', source: 'configured', bundled: false });
    expect(locateFfmpeg(undefined, `/nonexistent:${pathDir}`)).toEqual({ path: join(pathDir, 'ffmpeg'), source: 'PATH', bundled: false });
    expect(locateFfmpeg('', '')).toEqual({ path: BUNDLED, source: 'bundled', bundled: true });
  });

  it('knows the bundled build however it is reached', () => {
    expect(locateFfmpeg(BUNDLED, '')).toEqual({ path: BUNDLED, source: 'configured', bundled: true });
    expect(locateFfmpeg(undefined, linkDir)).toEqual({ path: join(linkDir, 'ffmpeg'), source: 'PATH', bundled: true });
  });
});

describe('describeFfmpeg', () => {
  it('runs the chosen binary once and reads its version', async () => {
    expect(await describeFfmpeg(undefined, pathDir)).toEqual({
      path: join(pathDir, 'ffmpeg'),
      source: 'PATH',
      bundled: false,
      version: '7.1.1',
      versionLine: 'ffmpeg version 7.1.1 Copyright (c) 2000-2025 the FFmpeg developers',
      error: null,
    });
    expect(await describeFfmpeg(undefined, '')).toMatchObject({
      path: BUNDLED,
      source: 'bundled',
      bundled: true,
      version: 'N-47683-g0e8eb07980-static',
      error: null,
    });
  });

  it('says why when the binary does not run or is not ffmpeg', async () => {
    const missing = await describeFfmpeg(join(dir, 'no-such-ffmpeg'));
    expect(missing).toMatchObject({ source: 'configured', version: null, versionLine: null, error: expect.stringMatching(/ENOENT/) });
    expect(await describeFfmpeg(join(notFfmpegDir, 'ffmpeg'))).toMatchObject({
      version: null,
      versionLine: 'hello',
      error: expect.stringMatching(/ffmpeg version/),
    });
  });
});

describe('logFfmpeg', () => {
  function capture(): { log: Logger; lines: Array<{ level: number; msg: string; ffmpeg?: unknown }> } {
    const lines: Array<{ level: number; msg: string }> = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    return { log: pino({ level: 'info' }, stream), lines };
  }
  const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

  it('logs path, source and version at info, and warns about the 2018 build', async () => {
    const { log, lines } = capture();
    logFfmpeg(log, await describeFfmpeg(undefined, ''));
    await settle();
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [30, `ffmpeg N-47683-g0e8eb07980-static (bundled) at ${BUNDLED}`],
      [40, BUNDLED_FFMPEG_WARNING],
    ]);
    expect(lines[0]!.ffmpeg).toEqual({ path: BUNDLED, source: 'bundled', version: 'N-47683-g0e8eb07980-static', bundled: true });
  });

  it('only informs for a current ffmpeg, and warns when the binary cannot be used', async () => {
    const current = capture();
    logFfmpeg(current.log, await describeFfmpeg(undefined, pathDir));
    const broken = capture();
    logFfmpeg(broken.log, await describeFfmpeg(join(dir, 'no-such-ffmpeg')));
    await settle();
    expect(current.lines.map((l) => [l.level, l.msg])).toEqual([[30, `ffmpeg 7.1.1 (PATH) at ${join(pathDir, 'ffmpeg')}`]]);
    expect(broken.lines.map((l) => l.level)).toEqual([40]);
    expect(broken.lines[0]!.msg).toMatch(/cannot be used: .*renders will fail/);
  });
});

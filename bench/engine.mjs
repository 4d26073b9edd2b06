// npm run bench:engine — wall time of the local engine on this machine: generate (8 s 720p) and
// extend of an 8 s and of a 141 s source, fast and quality, with and without watermark.
// Runs the compiled engine (npm run build first). Writes bench/results/engine-<date>.json.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultFontPath, resolveFfmpeg } from '../dist/engines/ffmpeg.js';
import { createLocalEngine } from '../dist/engines/local/local-engine.js';

const root = new URL('..', import.meta.url).pathname;
// BENCH_REPEAT=N times each render and reports the median (and all runs); BENCH_SKIP_LONG=1 skips
// the 141 s source, whose 19-extension setup takes minutes.
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 1));
const SKIP_LONG = process.env.BENCH_SKIP_LONG === '1';
const dir = await mkdtemp(join(tmpdir(), 'longshot-engine-bench-'));
const engine = createLocalEngine({ ffmpegPath: resolveFfmpeg(process.env.LONGSHOT_FFMPEG), fontPath: defaultFontPath(), tmpDir: join(dir, 'tmp') });
let n = 0;

function job(over) {
  const id = String(n++).padStart(32, '0');
  return {
    taskId: id,
    model: 'veo-3-1',
    mode: 'fast',
    prompt: 'a calm ocean at sunset, smooth camera move',
    aspectRatio: '16:9',
    generationType: 'TEXT_2_VIDEO',
    images: [],
    imageUrls: [],
    enableTranslation: false,
    seed: 42,
    watermark: null,
    source: null,
    outVideoPath: join(dir, `${id}.mp4`),
    outPosterPath: join(dir, `${id}.jpg`),
    ...over,
  };
}

async function timed(name, j) {
  const runs = [];
  let out;
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    out = await engine.render(
      i === 0 ? j : { ...j, outVideoPath: `${j.outVideoPath}.${i}.mp4`, outPosterPath: `${j.outPosterPath}.${i}.jpg` },
      new AbortController().signal,
    );
    runs.push(Number(((performance.now() - t0) / 1000).toFixed(2)));
    if (!out.ok) throw new Error(`${name}: ${out.failCode} ${out.message}`);
  }
  const seconds = [...runs].sort((a, b) => a - b)[Math.floor(runs.length / 2)];
  console.log(
    `${name.padEnd(44)} ${seconds.toFixed(2).padStart(7)} s   → ${(out.durationMs / 1000).toFixed(1)} s of video${REPEAT > 1 ? `   (runs: ${runs.join(', ')})` : ''}`,
  );
  return { name, seconds, runs, videoSeconds: out.durationMs / 1000, path: j.outVideoPath, out };
}

const source = (r) => ({ path: r.path, durationMs: r.out.durationMs, width: r.out.width, height: r.out.height, chainDepth: 0 });

try {
  const results = [];
  const genFast = await timed('generate 8 s 720p, fast', job({}));
  results.push(genFast);
  results.push(await timed('generate 8 s 720p, quality', job({ mode: 'quality' })));
  results.push(await timed('generate 8 s 720p, fast, watermark', job({ watermark: 'Longshot' })));
  for (const mode of ['fast', 'quality']) {
    for (const watermark of [null, 'Longshot']) {
      results.push(
        await timed(
          `extend 8 s source, ${mode}${watermark ? ', watermark' : ''}`,
          job({ model: 'veo-3-1-extend', mode, watermark, source: source(genFast), prompt: 'push in' }),
        ),
      );
    }
  }
  // A 141 s source: 8 s + 19 extensions of 7 s (not timed as a figure; it is the setup).
  let long = genFast;
  for (let i = 0; i < (SKIP_LONG ? 0 : 19); i++) {
    const j = job({ model: 'veo-3-1-extend', source: { ...source(long), chainDepth: i }, prompt: `continue ${i}` });
    const out = await engine.render(j, new AbortController().signal);
    if (!out.ok) throw new Error(out.message);
    long = { path: j.outVideoPath, out };
  }
  for (const mode of SKIP_LONG ? [] : ['fast', 'quality']) {
    for (const watermark of [null, 'Longshot']) {
      results.push(
        await timed(
          `extend 141 s source, ${mode}${watermark ? ', watermark' : ''}`,
          job({ model: 'veo-3-1-extend', mode, watermark, source: { ...source(long), chainDepth: 19 }, prompt: 'pull back' }),
        ),
      );
    }
  }
  const report = {
    date: new Date().toISOString(),
    command: `${REPEAT > 1 ? `BENCH_REPEAT=${REPEAT} ` : ''}${SKIP_LONG ? 'BENCH_SKIP_LONG=1 ' : ''}npm run bench:engine`,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    results: results.map(({ name, seconds, runs, videoSeconds }) => ({ name, seconds, runs, videoSeconds })),
  };
  await mkdir(join(root, 'bench/results'), { recursive: true });
  const file = join(root, 'bench/results', `engine-${report.date.slice(0, 10)}${REPEAT > 1 || SKIP_LONG ? '-repeat' : ''}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwritten ${file}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}

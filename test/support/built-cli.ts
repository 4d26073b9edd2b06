import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Compiles the sources into a private folder under node_modules/.cache, so a test never runs a stale dist/; returns the path of the CLI's main.js. tsc emits
 * even when another file has a type error: the CLI only needs its own modules to be sound.
 */
export async function buildCli(name: string): Promise<string> {
  const outDir = join(root, 'node_modules', '.cache', name);
  await new Promise<void>((resolve) => {
    execFile(
      process.execPath,
      [
        join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        join(root, 'tsconfig.json'),
        '--outDir',
        outDir,
        '--declaration',
        'false',
        '--sourceMap',
        'false',
      ],
      () => resolve(),
    );
  });
  // Under node_modules/ there is no package scope: say that these files are ES modules.
  await writeFile(join(outDir, 'package.json'), '{"type":"module"}\n');
  const cli = join(outDir, 'cli', 'main.js');
  if (!existsSync(cli)) throw new Error(`the CLI did not compile to ${cli}`);
  return cli;
}

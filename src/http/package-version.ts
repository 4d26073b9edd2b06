import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The version in Longshot's own package.json, found by walking up from this module: sources run
 * from src/http/, the build from dist/http/, and the CLI test compiles into a cache folder inside
 * node_modules, so no fixed relative path fits every layout.
 */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'longshot' && typeof pkg.version === 'string') return pkg.version;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`package.json of longshot not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

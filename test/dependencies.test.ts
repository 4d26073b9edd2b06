import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Every runtime dependency is installed by everyone who installs Longshot: each must be one the
 * shipped code (src/, tests aside) loads, by an import or a module path.
 */
const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('package.json dependencies', () => {
  const code = sources(join(root, 'src'))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  it.each(Object.keys(pkg.dependencies))('%s is loaded by the shipped code', (name) => {
    // A module specifier: the package itself or a path inside it, in either kind of quotes.
    const escaped = name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    const loaded = new RegExp(`['"]${escaped}(/[^'"]*)?['"]`).test(code);
    expect(loaded, `${name} is in dependencies, but nothing under src/ loads it: npm uninstall ${name}`).toBe(true);
  });
});

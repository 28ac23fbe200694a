import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The same modules run from source (tsx, vitest) and from dist/ (the installed CLI), so
 * files shipped beside the code (schemas, BPF objects) are found from the package root.
 */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'schemas'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('probeflow: cannot find the package root (no package.json beside schemas/)');
    dir = up;
  }
}

export const PACKAGE_ROOT = findRoot();

export const PACKAGE_VERSION: string = (
  JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

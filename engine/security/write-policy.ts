import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';

/** Where the agent may write when the command line says nothing. */
export const DEFAULT_WRITABLE_DIRS: readonly string[] = ['/var/lib/probeflow'];

/**
 * The directories a config may make the agent write into. It comes from the command line
 * (the DaemonSet spec), never from pipeline.yaml: whoever can edit the ConfigMap must not be
 * able to make a root agent write anywhere on the node.
 */
export class WritePolicy {
  readonly dirs: readonly string[];

  constructor(dirs: readonly string[] = DEFAULT_WRITABLE_DIRS) {
    this.dirs = dirs.map((d) => resolve(d));
  }

  /**
   * The absolute path `path` (relative to `baseDir`) names once symlinks are followed, or
   * why it may not be written. Symlinks are followed through the deepest existing ancestor,
   * so a link inside an allowed directory cannot point the write outside it.
   */
  resolve(path: string, baseDir: string): { path: string } | { refused: string } {
    const lexical = resolve(baseDir, path);
    const real = realOf(lexical);
    const inside = (dir: string) => {
      const rel = relative(realOf(dir), real);
      return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
    };
    if (this.dirs.some(inside)) return { path: real };
    const via = real !== lexical ? ` (it resolves to ${real})` : '';
    return {
      refused: `"${path}"${via} is outside the directories the agent may write to (${this.dirs.join(', ')}); pick a path inside one, or start the agent with --allow-write DIR`,
    };
  }
}

/** realpath of the deepest existing ancestor, with the rest of the path appended. */
function realOf(path: string): string {
  let existing = path;
  const rest: string[] = [];
  while (!existsSync(existing)) {
    const parent = dirname(existing);
    if (parent === existing) break;
    rest.unshift(existing.slice(parent.length + (parent.endsWith(sep) ? 0 : 1)));
    existing = parent;
  }
  try {
    return resolve(realpathSync(existing), ...rest);
  } catch {
    return path;
  }
}

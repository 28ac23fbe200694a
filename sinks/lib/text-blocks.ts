import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../engine/util/package-root.js';

/**
 * The surface of native/exposition_text.cc: UTF-8 byte blocks kept by id, and a body
 * rendered from a line table over them and a values array in one call.
 */
export interface TextBlocks {
  /** Keeps the text's UTF-8 bytes; the id may be one a drop freed. */
  put(text: string): number;
  drop(id: number): void;
  /** Blocks held (tests check that none leak). */
  count(): number;
  /**
   * The body into `out`: its length; or, when `out` is too small, minus the length it needs.
   * Four words a line: three block ids (NO_BLOCK: none), then op | slot << SLOT_SHIFT.
   */
  render(lines: Uint32Array, lineCount: number, values: Float64Array, out: Uint8Array): number;
}

interface TextBinding {
  TextBlocks: new () => TextBlocks;
  formatNumber(v: number): string;
}

export const NO_BLOCK = 0xffffffff;
/** Blocks only: a header carries its own newline. */
export const OP_NONE = 0;
/** Blocks, then values[slot] and a newline. */
export const OP_VALUE = 1;
/** A histogram's first bucket: its running sum starts at values[slot]. */
export const OP_CUMULATIVE = 2;
/** Its further buckets: the running sum grows by values[slot]. */
export const OP_ACCUMULATE = 3;
export const SLOT_SHIFT = 2;

let binding: TextBinding | undefined;

/** The addon, loaded with the first store: configs without a scrape endpoint never need it. */
export function textBinding(): TextBinding {
  if (binding) return binding;
  try {
    binding = createRequire(import.meta.url)(join(PACKAGE_ROOT, 'build', 'Release', 'probeflow_text.node')) as TextBinding;
    return binding;
  } catch (e) {
    throw new Error(`the exposition renderer is not built (${(e as Error).message.split('\n')[0]}): run \`npm run build\` (needs g++ and node-gyp) — see README`);
  }
}

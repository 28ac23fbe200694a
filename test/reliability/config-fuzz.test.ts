import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../engine/cli/builtin-registry.js';
import { ConfigLoader } from '../../engine/config/load-config.js';
import { ROOT } from '../helpers/cli.js';

/** mulberry32, seeded: a failure is reproducible from the case number. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const JUNK = ['', ' ', ':', '- ', '{', '}', '[', ']', '"', "'", '#', '&a', '*a', '!!int', '${', '${X}', '\t', '\n', '0x', '-1', '1e999', 'null', 'true', '~', '...', '---', 'type: delta', 'inputs: []', '\u0000', '🦀'];

function mutate(text: string, r: () => number): string {
  let out = text;
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * (out.length + 1));
    const op = Math.floor(r() * 4);
    if (op === 0) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(r() * 8));
    else if (op === 1) out = out.slice(0, at) + JUNK[Math.floor(r() * JUNK.length)] + out.slice(at);
    else if (op === 2) {
      const lines = out.split('\n');
      const l = Math.floor(r() * lines.length);
      lines.splice(l, 0, lines[Math.floor(r() * lines.length)] ?? '');
      out = lines.join('\n');
    } else out = out.replace(/: (\S+)/, (_m, v) => `: ${r() < 0.5 ? JSON.stringify(v) : `[${v}]`}`);
  }
  return out;
}

describe('config loader under generated broken input', () => {
  const seeds = ['examples', 'pipelines'].flatMap((d) => readdirSync(join(ROOT, d)).filter((f) => f.endsWith('.yaml')).map((f) => readFileSync(join(ROOT, d, f), 'utf8')));
  const loader = new ConfigLoader(builtinRegistry());

  it('never throws, and every refusal is located (line, column, message)', () => {
    const r = rng(20261125);
    let refused = 0;
    for (let i = 0; i < 600; i++) {
      const text = mutate(seeds[i % seeds.length]!, r);
      let result;
      try {
        result = loader.check(`case-${i}.yaml`, { text, env: {} });
      } catch (e) {
        throw new Error(`case ${i} threw ${(e as Error).stack}\n---\n${text}`);
      }
      if (!result.topology) {
        refused++;
        const errors = result.issues.filter((x) => x.severity === 'error');
        expect(errors.length, `case ${i}: refused without an error\n${text}`).toBeGreaterThan(0);
        for (const e of errors) {
          expect(e.line, `case ${i}`).toBeGreaterThanOrEqual(1);
          expect(e.col, `case ${i}`).toBeGreaterThanOrEqual(1);
          expect(e.message.length, `case ${i}`).toBeGreaterThan(5);
        }
      }
    }
    // The mutations must actually break most files, or this test proves nothing.
    expect(refused).toBeGreaterThan(300);
  });
});

import { describe, expect, it } from 'vitest';
import { BinarySymbols } from '../probes/lib/binary-symbols.js';
import { buildGo } from './helpers/workloads.js';

/**
 * Kunpeng nodes run arm64 Go binaries: the stack-check prologue is found in them (the uprobe
 * then sits on the b.ls the kernel simulates), plain and stripped, cross-built here by the
 * host's Go. That the probes count on arm64 is tested in the arm64 QEMU guest (make test-kernels).
 */
describe('Go arm64 binaries', () => {
  for (const flavour of ['plain', 'stripped'] as const) {
    it(`${flavour}: finds the prologue's b.ls in both compiler forms (cmp sp; sub x17 + cmp)`, () => {
      const sym = BinarySymbols.open(buildGo(flavour, 'go', 'arm64'));
      expect(sym.arch).toBe('aarch64');
      expect(sym.resolve('main.work').source).toBe(flavour === 'plain' ? 'symtab' : 'gopclntab');
      // ldr x16,[x28,#16]; cmp sp,x16; b.ls — the probe on the b.ls, or after it.
      expect(sym.resolve('main.work', { at: 'stack_check' })).toMatchObject({ attachDelta: 8, stackCheck: 'sp' });
      expect(sym.resolve('main.work')).toMatchObject({ attachDelta: 12 });
      expect(sym.resolve('runtime.mallocgc', { at: 'stack_check' })).toMatchObject({ attachDelta: 8, stackCheck: 'sp' });
      // ldr x16,[x28,#16]; sub x17,sp,#N; cmp x17,x16; b.ls (a frame above 128 bytes).
      expect(sym.resolve('runtime.chansend', { at: 'stack_check' })).toMatchObject({ attachDelta: 12, stackCheck: 'x17' });
      expect(sym.resolve('main.work', { at: 'entry' })).toMatchObject({ attachDelta: 0 });
    });
  }
});

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLASS_TO_SIZE, goOffsets, MEMSTATS } from '../probes/lib/go/offsets.js';
import { callSites, leaRaxBefore } from '../probes/lib/go/amd64-calls.js';
import { arm64CallSites, arm64ReceiverBefore, arm64ScanAllglen, arm64ScanStw } from '../probes/lib/go/arm64-code.js';
import { waitReasonNames } from '../probes/lib/go/wait-reasons.js';
import { allocatedSize } from '../probes/lib/go/go-runtime-reader.js';
import { goToolchains } from './helpers/go-toolchains.js';
import { findGcController, findMemstats, findRuntimeGlobals, scanAllglen, scanRipRelative } from '../probes/lib/go/runtime-globals.js';
import { BinarySymbols } from '../probes/lib/binary-symbols.js';
import { ElfFile } from '../probes/lib/elf-file.js';
import { buildGoProgram } from './helpers/workloads.js';
import { requireTool } from './helpers/require-tool.js';

/** gdb's `ptype/o` of a runtime struct: its layout as the binary's DWARF says. */
function ptypeOffsets(bin: string, struct: string): string {
  requireTool('gdb');
  return execFileSync('gdb', ['-batch', '-nx', '-iex', 'set auto-load safe-path /', '-ex', 'set language c', '-ex', `ptype/o struct 'runtime.${struct}'`, bin], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

/** Field offsets of a runtime struct, read from the binary's DWARF by gdb. */
function dwarfOffsets(bin: string, struct: string): Map<string, number> {
  const out = ptypeOffsets(bin, struct);
  const fields = new Map<string, number>();
  let depth = 0;
  for (const line of out.split('\n')) {
    // Only the struct's own fields (depth 1), not those of nested structs.
    const m = /^\/\*\s+(\d+)\s+\|\s+\d+\s+\*\/\s+.*?(\w+);$/.exec(line);
    if (m && depth === 1 && !fields.has(m[2]!)) fields.set(m[2]!, Number(m[1]));
    depth += (line.match(/\{/g) ?? []).length - (line.match(/\}/g) ?? []).length;
  }
  return fields;
}

const toolchains = goToolchains();

describe('Go runtime tables against each toolchain', () => {
  for (const tc of toolchains) {
    const minor = Number(tc.version.split('.')[1]);

    it(`go${tc.version}: the disassembly that finds sched, allp and allglen on stripped binaries agrees with the symbol table`, () => {
      const plain = buildGoProgram('go-fidelity', 'plain', tc);
      const symtab = findRuntimeGlobals(plain, BinarySymbols.open(plain))!;
      expect(symtab.source).toBe('symtab');
      // The same binary, read as if it had no symbol table: the stripped path over known answers.
      const symbols = BinarySymbols.open(plain);
      const code = (name: string) => {
        const f = symbols.resolve(name, { at: 'entry' });
        const elf = ElfFile.open(plain);
        try {
          return { code: elf.read(f.fileOffset, Math.min(f.size, 4096)), base: f.address };
        } finally {
          elf.close();
        }
      };
      const stw = code('runtime.stopTheWorldWithSema');
      const add = code('runtime.allgadd');
      expect(scanRipRelative(stw.code, stw.base)).toEqual({ sched: symtab.sched, allp: symtab.allp });
      expect(scanAllglen(add.code, add.base)).toEqual({ allglen: symtab.allglen, allgsLen: symtab.allgsLen });
      // memstats: the receiver of refill's one call to (*consistentHeapStats).acquire.
      const refill = code('runtime.(*mcache).refill');
      const acquire = symbols.resolve('runtime.(*consistentHeapStats).acquire', { at: 'entry' }).address;
      const sites = callSites(refill.code, refill.base, acquire);
      expect(sites.length).toBeGreaterThanOrEqual(1);
      expect(leaRaxBefore(refill.code, refill.base, sites[0]!)).toBe(findMemstats(plain, symbols)!.address);
      // gcController: the receiver of gcStart's call to (*gcControllerState).startCycle.
      const gcStart = code('runtime.gcStart');
      const startCycle = symbols.resolve('runtime.(*gcControllerState).startCycle', { at: 'entry' }).address;
      const starts = callSites(gcStart.code, gcStart.base, startCycle);
      expect(starts.length).toBeGreaterThanOrEqual(1);
      expect(leaRaxBefore(gcStart.code, gcStart.base, starts[0]!)).toBe(findGcController(plain, symbols)!.address);
      expect(findGcController(plain, symbols)!.source).toBe('symtab');
      // And on the stripped build itself, where only the disassembly can answer.
      const stripped = buildGoProgram('go-fidelity', 'stripped', tc);
      const found = findRuntimeGlobals(stripped, BinarySymbols.open(stripped))!;
      expect(found.source).toBe('disassembly');
      expect(found.allglen).toBeDefined();
      expect(findMemstats(stripped, BinarySymbols.open(stripped))?.source).toBe('disassembly');
      expect(findGcController(stripped, BinarySymbols.open(stripped))?.source).toBe('disassembly');
    });

    it(`go${tc.version}: gcControllerState's layout (GOGC, GOMEMLIMIT, heap goal, live heap) equals the binary's DWARF`, () => {
      const bin = buildGoProgram('go-fidelity', 'plain', tc);
      const want = goOffsets(1, minor)!.gcController!;
      const c = dwarfOffsets(bin, 'gcControllerState');
      expect(Object.fromEntries(Object.keys(want).map((f) => [f, c.get(f)]))).toEqual(want);
    });

    it(`go${tc.version}: memstats' layout (the counters' seed) equals the binary's DWARF`, () => {
      const bin = buildGoProgram('go-fidelity', 'plain', tc);
      const m = dwarfOffsets(bin, 'mstats');
      const d = dwarfOffsets(bin, 'heapStatsDelta');
      expect({ heapStats: m.get('heapStats'), pauseTotalNs: m.get('pause_total_ns'), numgc: m.get('numgc'), enablegc: m.get('enablegc') }).toEqual({ heapStats: MEMSTATS.heapStats, pauseTotalNs: MEMSTATS.pauseTotalNs, numgc: MEMSTATS.numgc, enablegc: MEMSTATS.enablegc });
      expect({ largeAlloc: d.get('largeAlloc'), largeAllocCount: d.get('largeAllocCount'), smallAllocCount: d.get('smallAllocCount') }).toEqual({ largeAlloc: MEMSTATS.largeAlloc, largeAllocCount: MEMSTATS.largeAllocCount, smallAllocCount: MEMSTATS.smallAllocCount });
      const size = (struct: string) => Number(/total size \(bytes\):\s+(\d+)/.exec(ptypeOffsets(bin, struct).split('\n').reverse().join('\n'))![1]);
      expect(size('heapStatsDelta')).toBe(MEMSTATS.deltaSize);
      expect(size('consistentHeapStats')).toBeGreaterThanOrEqual(MEMSTATS.heapStatsGenerations * MEMSTATS.deltaSize);
    });

    it(`go${tc.version}: struct offsets equal the binary's DWARF`, () => {
      const bin = buildGoProgram('go-fidelity', 'plain', tc);
      const o = goOffsets(1, minor)!;
      const g = dwarfOffsets(bin, 'g');
      const p = dwarfOffsets(bin, 'p');
      const sched = dwarfOffsets(bin, 'schedt');
      const mcache = dwarfOffsets(bin, 'mcache');
      const mspan = dwarfOffsets(bin, 'mspan');
      expect({ goid: g.get('goid'), runqhead: p.get('runqhead'), runqtail: p.get('runqtail'), runnext: p.get('runnext') }).toEqual({ goid: o.gGoid, runqhead: o.pRunqhead, runqtail: o.pRunqtail, runnext: o.pRunnext });
      expect({ nmidle: sched.get('nmidle'), nmidlelocked: sched.get('nmidlelocked'), mnext: sched.get('mnext'), nmsys: sched.get('nmsys'), nmfreed: sched.get('nmfreed'), ngsys: sched.get('ngsys') }).toEqual({
        nmidle: o.schedNmidle,
        nmidlelocked: o.schedNmidlelocked,
        mnext: o.schedMnext,
        nmsys: o.schedNmsys,
        nmfreed: o.schedNmfreed,
        ngsys: o.schedNgsys,
      });
      expect({ alloc: mcache.get('alloc'), allocCount: mspan.get('allocCount'), before: mspan.get('allocCountBeforeCache') }).toEqual({ alloc: o.mcacheAlloc, allocCount: o.spanAllocCount, before: o.spanAllocCountBeforeCache });
      // gFree is a nested struct: its n is the last int32 before "} gFree;".
      const gfree = (struct: string) => {
        const out = ptypeOffsets(bin, struct).split('\n');
        const end = out.findIndex((l) => /^\s*\} gFree;/.test(l));
        // The last field before the closing brace (gdb may print a padding comment in between).
        const field = out.slice(0, end).reverse().find((l) => /^\/\*\s+\d+\s+\|/.test(l))!;
        return Number(/^\/\*\s+(\d+)/.exec(field)![1]);
      };
      expect({ sched: gfree('schedt'), p: gfree('p') }).toEqual({ sched: o.schedGfreeN, p: o.pGfreeN });
    });

    it(`go${tc.version}: wait reasons in runtime2.go order`, () => {
      const src = readFileSync(join(tc.src, 'runtime', 'runtime2.go'), 'utf8');
      const start = src.indexOf('waitReasonZero');
      const block = src.slice(start, src.indexOf('\n)', start));
      const ids = [...block.matchAll(/^\s*(waitReason\w+)/gm)].map((m) => m[1]!);
      const strings = [...src.matchAll(/^\s*(waitReason\w+):\s*"([^"]*)",?$/gm)].reduce((m, x) => m.set(x[1]!, x[2]!), new Map<string, string>());
      expect(waitReasonNames(minor)).toEqual(ids.map((id) => strings.get(id) ?? ''));
    });

    it(`go${tc.version} arm64 (cross-built): the runtime structs we read have amd64's offsets, and the arm64 code scans agree with the symbol table`, () => {
      const arm = buildGoProgram('go-fidelity', 'plain', tc, 'arm64');
      const amd = buildGoProgram('go-fidelity', 'plain', tc, 'x64');
      // Only cache-line padding at the ends of structs differs (arm64 pads to 128 bytes).
      for (const struct of ['g', 'm', 'p', 'schedt', 'mcache', 'mspan', 'mstats', 'heapStatsDelta', 'gcControllerState']) {
        const [a, b] = [dwarfOffsets(arm, struct), dwarfOffsets(amd, struct)];
        for (const m of [a, b]) m.delete('_');
        expect({ struct, offsets: Object.fromEntries(a) }).toEqual({ struct, offsets: Object.fromEntries(b) });
      }
      const plain = BinarySymbols.open(arm);
      expect(plain.arch).toBe('aarch64');
      const symtab = findRuntimeGlobals(arm, plain)!;
      const elf = ElfFile.open(arm);
      const code = (name: string) => {
        const f = plain.resolve(name, { at: 'entry' });
        return { code: elf.read(f.fileOffset, Math.min(f.size, 4096)), base: f.address };
      };
      try {
        const stw = code('runtime.stopTheWorldWithSema');
        const add = code('runtime.allgadd');
        expect(arm64ScanStw(stw.code, stw.base, plain.resolve('runtime.lock2', { at: 'entry' }).address)).toEqual({ sched: symtab.sched, allp: symtab.allp });
        expect(arm64ScanAllglen(add.code, add.base)).toEqual({ allglen: symtab.allglen, allgsLen: symtab.allgsLen });
        const refill = code('runtime.(*mcache).refill');
        const acquire = arm64CallSites(refill.code, refill.base, plain.resolve('runtime.(*consistentHeapStats).acquire', { at: 'entry' }).address);
        expect(arm64ReceiverBefore(refill.code, refill.base, acquire[0]!)).toBe(elf.objectSymbol('runtime.memstats'));
        const gcStart = code('runtime.gcStart');
        const startCycle = arm64CallSites(gcStart.code, gcStart.base, plain.resolve('runtime.(*gcControllerState).startCycle', { at: 'entry' }).address);
        expect(arm64ReceiverBefore(gcStart.code, gcStart.base, startCycle[0]!)).toBe(elf.objectSymbol('runtime.gcController'));
      } finally {
        elf.close();
      }
      // The stripped arm64 build: only the code can answer (its data moves by a few bytes from
      // 1.22 on, so there is no table to compare with; the probe checks the answers in live memory).
      const stripped = buildGoProgram('go-fidelity', 'stripped', tc, 'arm64');
      const symbols = BinarySymbols.open(stripped);
      expect(findRuntimeGlobals(stripped, symbols)).toMatchObject({ sched: expect.any(BigInt), allp: expect.any(BigInt), allglen: expect.any(BigInt), source: 'disassembly' });
      expect(findMemstats(stripped, symbols)?.source).toBe('disassembly');
      expect(findGcController(stripped, symbols)?.source).toBe('disassembly');
    });

    it(`go${tc.version}: size classes as in sizeclasses.go`, () => {
      const src = readFileSync(join(tc.src, 'runtime', 'sizeclasses.go'), 'utf8');
      const m = /class_to_size = \[_NumSizeClasses\]uint16\{([^}]*)\}/.exec(src)!;
      expect(CLASS_TO_SIZE).toEqual(m[1]!.split(',').map((x) => Number(x.trim())));
    });
  }

  it('rounds allocations as the allocator does', () => {
    expect(allocatedSize(1000, true, 19)).toBe(1024);
    expect(allocatedSize(8, true, 19)).toBe(8); // tiny
    expect(allocatedSize(600, false, 21)).toBe(640);
    expect(allocatedSize(600, false, 22)).toBe(640); // 608 with the malloc header, still class 640
    expect(allocatedSize(1020, false, 22)).toBe(1152); // 1028 with the header
    expect(allocatedSize(40000, true, 24)).toBe(40960);
  });
});

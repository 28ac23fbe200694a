import { ElfFile } from '../elf-file.js';
import { BinarySymbols } from '../binary-symbols.js';

/** Link-time addresses of the runtime globals the gauges read. */
export interface RuntimeGlobals {
  sched: bigint;
  allp: bigint;
  allglen?: bigint;
  source: 'symtab' | 'disassembly';
}

/**
 * From .symtab when the binary has one; on stripped binaries from the code of
 * runtime.stopTheWorldWithSema (verified on Go 1.19 and 1.21–1.24): its first RIP-relative
 * LEA is &sched.lock (sched + 24) and its first pair of RIP-relative MOV loads from A and A+8
 * reads allp (A = &allp). The caller validates both against live memory before trusting them.
 */
export function findRuntimeGlobals(path: string, symbols: BinarySymbols): RuntimeGlobals | undefined {
  const elf = ElfFile.open(path);
  try {
    const sched = elf.objectSymbol('runtime.sched');
    const allp = elf.objectSymbol('runtime.allp');
    const allglen = elf.objectSymbol('runtime.allglen');
    if (sched !== undefined && allp !== undefined) return { sched, allp, ...(allglen !== undefined ? { allglen } : {}), source: 'symtab' };
    if (!symbols.has('runtime.stopTheWorldWithSema')) return undefined;
    const f = symbols.resolve('runtime.stopTheWorldWithSema', { at: 'entry' });
    const code = elf.read(f.fileOffset, Math.min(f.size, 4096));
    const found = scanRipRelative(code, f.address);
    return found ? { ...found, source: 'disassembly' } : undefined;
  } finally {
    elf.close();
  }
}

/** REX.W/REX.WR + 8D (lea) or 8B (mov) with a RIP-relative ModRM (mod=00, rm=101). */
export function scanRipRelative(code: Buffer, base: bigint): { sched: bigint; allp: bigint } | undefined {
  let sched: bigint | undefined;
  let prevMov: bigint | undefined;
  let allp: bigint | undefined;
  for (let i = 0; i + 7 <= code.length && (sched === undefined || allp === undefined); i++) {
    const rex = code[i]!;
    const op = code[i + 1]!;
    const modrm = code[i + 2]!;
    if ((rex !== 0x48 && rex !== 0x4c) || (op !== 0x8d && op !== 0x8b) || (modrm & 0xc7) !== 0x05) continue;
    const target = base + BigInt(i + 7) + BigInt(code.readInt32LE(i + 3));
    if (op === 0x8d && sched === undefined) sched = target - 24n;
    if (op === 0x8b && allp === undefined) {
      if (prevMov !== undefined && target === prevMov + 8n) allp = prevMov;
      prevMov = target;
    }
    i += 6;
  }
  return sched !== undefined && allp !== undefined ? { sched, allp } : undefined;
}

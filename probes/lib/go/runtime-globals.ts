import { ElfFile } from '../elf-file.js';
import { BinarySymbols } from '../binary-symbols.js';
import { arm64ScanAllglen, arm64ScanStw } from './arm64-code.js';
import { firstCall, receiverBefore } from './machine-code.js';

/** Link-time addresses of the runtime globals the gauges read. */
export interface RuntimeGlobals {
  sched: bigint;
  allp: bigint;
  allglen?: bigint;
  /** &allgs[1:] — the slice's len word, equal to allglen in a live process (the check that the address is right). */
  allgsLen?: bigint;
  source: 'symtab' | 'disassembly';
}

/**
 * From .symtab when the binary has one; on stripped binaries from the code of
 * runtime.stopTheWorldWithSema (verified on Go 1.19 and 1.21–1.24): on amd64 its first
 * RIP-relative LEA is &sched.lock (sched + 24) and its first pair of RIP-relative MOV loads
 * from A and A+8 reads allp (A = &allp); arm64-code.ts reads the same from ADRP/ADD/LDR.
 * The caller validates both against live memory before trusting them.
 */
export function findRuntimeGlobals(path: string, symbols: BinarySymbols): RuntimeGlobals | undefined {
  const elf = ElfFile.open(path);
  try {
    const sched = elf.objectSymbol('runtime.sched');
    const allp = elf.objectSymbol('runtime.allp');
    const allglen = elf.objectSymbol('runtime.allglen');
    const allgs = elf.objectSymbol('runtime.allgs');
    if (sched !== undefined && allp !== undefined) {
      return { sched, allp, ...(allglen !== undefined ? { allglen } : {}), ...(allgs !== undefined ? { allgsLen: allgs + 8n } : {}), source: 'symtab' };
    }
    if (!symbols.has('runtime.stopTheWorldWithSema')) return undefined;
    const code = (name: string) => {
      const f = symbols.resolve(name, { at: 'entry' });
      return { code: elf.read(f.fileOffset, Math.min(f.size, 4096)), base: f.address };
    };
    const stw = code('runtime.stopTheWorldWithSema');
    const arm64 = symbols.arch === 'aarch64';
    if (arm64 && !symbols.has('runtime.lock2')) return undefined;
    const found = arm64 ? arm64ScanStw(stw.code, stw.base, symbols.resolve('runtime.lock2', { at: 'entry' }).address) : scanRipRelative(stw.code, stw.base);
    if (!found) return undefined;
    const add = symbols.has('runtime.allgadd') ? code('runtime.allgadd') : undefined;
    const allg = add ? (arm64 ? arm64ScanAllglen : scanAllglen)(add.code, add.base) : undefined;
    return { ...found, ...(allg ?? {}), source: 'disassembly' };
  } finally {
    elf.close();
  }
}

/**
 * allglen on a stripped binary, from runtime.allgadd (gcount() itself is inlined everywhere):
 * it ends `atomic.Storeuintptr(&allglen, uintptr(len(allgs)))`, compiled on every Go version
 * checked (1.19, 1.21–1.24, PIE too) as
 *     mov  rA, [rip+&allgs.len]    ; REX.W 8B, RIP-relative
 *     lea  rB, [rip+&allglen]      ; REX.W 8D, RIP-relative
 *     xchg rA, [rB]                ; REX.W 87, mod=00
 * — a store of the very value just loaded, which tells it from allgptr's store just before.
 * The caller checks allglen == len(allgs) in live memory before trusting it.
 */
export function scanAllglen(code: Buffer, base: bigint): { allglen: bigint; allgsLen: bigint } | undefined {
  const ripTarget = (i: number) => base + BigInt(i + 7) + BigInt(code.readInt32LE(i + 3));
  const ripOp = (i: number, op: number) => (code[i]! & 0xf8) === 0x48 && code[i + 1] === op && (code[i + 2]! & 0xc7) === 0x05;
  const regOf = (i: number) => ((code[i]! & 4) << 1) | ((code[i + 2]! >> 3) & 7);
  let found: { allglen: bigint; allgsLen: bigint } | undefined;
  for (let i = 0; i + 17 <= code.length; i++) {
    if (!ripOp(i, 0x8b) || !ripOp(i + 7, 0x8d)) continue;
    const x = i + 14;
    const rex = code[x]!;
    const modrm = code[x + 2]!;
    if ((rex & 0xf8) !== 0x48 || code[x + 1] !== 0x87 || modrm >> 6 !== 0) continue;
    const stored = ((rex & 4) << 1) | ((modrm >> 3) & 7);
    const into = ((rex & 1) << 3) | (modrm & 7);
    if (stored === regOf(i) && into === regOf(i + 7)) found = { allglen: ripTarget(i + 7), allgsLen: ripTarget(i) };
  }
  return found;
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

/** A runtime global's link-time address, and whether the symbol table or the code told it. */
export interface FoundGlobal {
  address: bigint;
  source: 'symtab' | 'disassembly';
}

/**
 * A runtime global from .symtab, or on stripped binaries as the receiver of a method the
 * runtime calls on it: Go passes the receiver in RAX (arm64: X0), loaded by
 * `lea rax, [rip+&global]` (ADRP+ADD X0) just before the call. The caller checks the address against live memory before trusting it.
 */
function receiverGlobal(path: string, symbols: BinarySymbols, name: string, caller: string, method: string): FoundGlobal | undefined {
  const elf = ElfFile.open(path);
  try {
    const sym = elf.objectSymbol(name);
    if (sym !== undefined) return { address: sym, source: 'symtab' };
  } finally {
    elf.close();
  }
  const call = firstCall(symbols, path, caller, method);
  const address = call && receiverBefore(call.code, call.address, call.at, symbols.arch);
  return address === undefined ? undefined : { address, source: 'disassembly' };
}

/**
 * runtime.memstats: (*mcache).refill calls memstats.heapStats.acquire(), and heapStats is
 * memstats' first field (verified on 1.19 and 1.21–1.24; checked in runtime-totals.ts).
 */
export function findMemstats(path: string, symbols: BinarySymbols): FoundGlobal | undefined {
  return receiverGlobal(path, symbols, 'runtime.memstats', 'runtime.(*mcache).refill', 'runtime.(*consistentHeapStats).acquire');
}

/**
 * runtime.gcController: gcStart calls gcController.startCycle() (verified on 1.19 and
 * 1.21–1.24; checked in gc-controller.ts).
 */
export function findGcController(path: string, symbols: BinarySymbols): FoundGlobal | undefined {
  return receiverGlobal(path, symbols, 'runtime.gcController', 'runtime.gcStart', 'runtime.(*gcControllerState).startCycle');
}

/**
 * What the Go runtime probe reads from arm64 machine code, without a disassembler — the
 * counterparts of amd64-calls.ts and the RIP-relative scans of runtime-globals.ts. arm64
 * instructions are 4 bytes and aligned, so unlike on amd64 there are no false positions:
 *   BL imm26                          a call
 *   ADRP Xd, page (+ ADD Xd, Xd, #lo12) the address of a global (Go's linker always pairs them)
 *   LDR Xt, [Xn, #imm12*8]            a 64-bit load from such an address
 *   STLR Xt, [Xn]                     an atomic 64-bit store (atomic.Store*)
 * go-tables.test.ts checks every result against the symbol table on each toolchain.
 */

const insnAt = (code: Buffer, i: number) => code.readUInt32LE(i);

/** Offsets (from the start of code) of each `bl target`, in order. */
export function arm64CallSites(code: Buffer, base: bigint, target: bigint): number[] {
  const out: number[] = [];
  for (let i = 0; i + 4 <= code.length; i += 4) {
    const w = insnAt(code, i);
    if ((w & 0xfc000000) >>> 0 !== 0x94000000) continue;
    const imm26 = (w & 0x03ffffff) << 6 >> 6; // sign-extend 26 bits
    if (base + BigInt(i) + BigInt(imm26 * 4) === target) out.push(i);
  }
  return out;
}

/** One instruction's effect on the registers we follow. */
type Effect =
  | { kind: 'addr'; reg: number; address: bigint; viaAdd: boolean }
  | { kind: 'load'; reg: number; address: bigint }
  | { kind: 'store'; reg: number; address: bigint }
  | { kind: 'clobber'; reg: number }
  | { kind: 'call' };

/**
 * Walks code in order and reports what each instruction does with global addresses: the
 * registers holding one (ADRP, ADD), the loads from and atomic stores to them. Any other
 * instruction that writes a register (the low five bits name it in most encodings) is taken
 * to clobber it, so a stale address is never used.
 */
function* effects(code: Buffer, base: bigint, from = 0, to = code.length): Generator<[number, Effect]> {
  const addr = new Map<number, bigint>();
  for (let i = from; i + 4 <= to; i += 4) {
    const w = insnAt(code, i);
    const rd = w & 0x1f;
    const rn = (w >>> 5) & 0x1f;
    const pc = base + BigInt(i);
    if ((w & 0x9f000000) >>> 0 === 0x90000000) {
      // ADRP: immhi:immlo << 12, from pc's page.
      const imm = ((((w >>> 5) & 0x7ffff) << 2) | ((w >>> 29) & 3)) << 11 >> 11; // sign-extend 21 bits
      const address = (pc & ~0xfffn) + (BigInt(imm) << 12n);
      addr.set(rd, address);
      yield [i, { kind: 'addr', reg: rd, address, viaAdd: false }];
    } else if ((w & 0xff800000) >>> 0 === 0x91000000 && addr.has(rn)) {
      // ADD Xd, Xn, #imm12{, lsl 12}
      const imm = BigInt((w >>> 10) & 0xfff) << ((w >>> 22) & 1 ? 12n : 0n);
      const address = addr.get(rn)! + imm;
      addr.set(rd, address);
      yield [i, { kind: 'addr', reg: rd, address, viaAdd: true }];
    } else if ((w & 0xffc00000) >>> 0 === 0xf9400000) {
      // LDR Xt, [Xn, #imm12*8]
      const at = addr.get(rn);
      addr.delete(rd);
      if (at !== undefined) yield [i, { kind: 'load', reg: rd, address: at + BigInt(((w >>> 10) & 0xfff) * 8) }];
      else yield [i, { kind: 'clobber', reg: rd }];
    } else if ((w & 0xfffffc00) >>> 0 === 0xc89ffc00) {
      // STLR Xt, [Xn]
      const at = addr.get(rn);
      if (at !== undefined) yield [i, { kind: 'store', reg: rd, address: at }];
    } else if ((w & 0xfc000000) >>> 0 === 0x94000000) {
      addr.clear(); // a call may leave anything in any register
      yield [i, { kind: 'call' }];
    } else if ((w & 0x1c000000) >>> 0 === 0x14000000) {
      // Branches write no register (BL, handled above, only x30).
    } else if ((w & 0x0a000000) >>> 0 === 0x08000000 && !((w >>> 22) & 1)) {
      // Stores: the low five bits name the register stored, not one written.
    } else {
      addr.delete(rd);
      yield [i, { kind: 'clobber', reg: rd }];
    }
  }
}

/**
 * The receiver of the call at `callAt`: the global whose address was last put in X0 (Go's
 * first argument register on arm64) by ADRP+ADD within 32 bytes before the call.
 */
export function arm64ReceiverBefore(code: Buffer, base: bigint, callAt: number): bigint | undefined {
  let found: bigint | undefined;
  for (const [, e] of effects(code, base, Math.max(0, callAt - 32), callAt)) {
    if (e.kind === 'addr' && e.reg === 0 && e.viaAdd) found = e.address;
    else if ((e.kind === 'clobber' || e.kind === 'load') && e.reg === 0) found = undefined;
  }
  return found;
}

/**
 * sched and allp in runtime.stopTheWorldWithSema: `lock(&sched.lock)` is its first call of
 * runtime.lock2, with &sched.lock (sched + 24) in X0 (the first address made at all is not
 * it from 1.22, whose tracer code comes first); the first two loads from A and A+8 read allp.
 */
export function arm64ScanStw(code: Buffer, base: bigint, lock2: bigint): { sched: bigint; allp: bigint } | undefined {
  const call = arm64CallSites(code, base, lock2)[0];
  const lock = call === undefined ? undefined : arm64ReceiverBefore(code, base, call);
  if (lock === undefined) return undefined;
  let prevLoad: bigint | undefined;
  for (const [, e] of effects(code, base)) {
    if (e.kind !== 'load') continue;
    if (prevLoad !== undefined && e.address === prevLoad + 8n) return { sched: lock - 24n, allp: prevLoad };
    prevLoad = e.address;
  }
  return undefined;
}

/**
 * allglen in runtime.allgadd: `atomic.Storeuintptr(&allglen, uintptr(len(allgs)))` is an STLR
 * of the very register just loaded from allgs' len word — which tells it from allgptr's store.
 */
export function arm64ScanAllglen(code: Buffer, base: bigint): { allglen: bigint; allgsLen: bigint } | undefined {
  const loadedFrom = new Map<number, bigint>();
  let found: { allglen: bigint; allgsLen: bigint } | undefined;
  for (const [, e] of effects(code, base)) {
    if (e.kind === 'load') loadedFrom.set(e.reg, e.address);
    else if (e.kind === 'clobber') loadedFrom.delete(e.reg);
    else if (e.kind === 'call') loadedFrom.clear();
    else if (e.kind === 'store' && loadedFrom.has(e.reg)) found = { allglen: e.address, allgsLen: loadedFrom.get(e.reg)! };
  }
  return found;
}

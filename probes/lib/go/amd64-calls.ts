/**
 * Call sites in amd64 machine code, found without a disassembler: `call rel32` (E8) whose
 * target is a known function entry. A false match needs five bytes inside another instruction
 * to spell a call to exactly that address (about 2^-32 per position), and go-tables.test.ts
 * checks every site we use against objdump on each toolchain.
 */

/** Offsets (from the start of code) of each `call target`, in order. */
export function callSites(code: Buffer, base: bigint, target: bigint): number[] {
  const out: number[] = [];
  for (let i = 0; i + 5 <= code.length; i++) {
    if (code[i] !== 0xe8) continue;
    if (base + BigInt(i + 5) + BigInt(code.readInt32LE(i + 1)) === target) out.push(i);
  }
  return out;
}

/**
 * The address a method call's receiver was loaded from: the last `lea rax, [rip+X]`
 * (48 8D 05) within 32 bytes before the call at `callAt`. Go passes the receiver in RAX, so
 * for a method called on a global (`memstats.heapStats.acquire()`) X is that global.
 */
export function leaRaxBefore(code: Buffer, base: bigint, callAt: number): bigint | undefined {
  for (let i = callAt - 7; i >= Math.max(0, callAt - 32); i--) {
    if (code[i] === 0x48 && code[i + 1] === 0x8d && code[i + 2] === 0x05) return base + BigInt(i + 7) + BigInt(code.readInt32LE(i + 3));
  }
  return undefined;
}

import type { BinarySymbols } from '../binary-symbols.js';
import { ElfFile } from '../elf-file.js';
import { callSites as amd64CallSites, leaRaxBefore } from './amd64-calls.js';
import { arm64CallSites, arm64ReceiverBefore } from './arm64-code.js';

/** The machine-code questions the Go runtime probe asks, answered per architecture. */
export type Machine = BinarySymbols['arch'];

/** Bytes of a call instruction: the return address is the call's offset plus this. */
export const CALL_LENGTH: Record<Machine, number> = { x86_64: 5, aarch64: 4 };

export function callSites(code: Buffer, base: bigint, target: bigint, machine: Machine): number[] {
  return machine === 'x86_64' ? amd64CallSites(code, base, target) : arm64CallSites(code, base, target);
}

/** The global a method call's receiver (first argument register) was loaded with, just before the call. */
export function receiverBefore(code: Buffer, base: bigint, callAt: number, machine: Machine): bigint | undefined {
  return machine === 'x86_64' ? leaRaxBefore(code, base, callAt) : arm64ReceiverBefore(code, base, callAt);
}

/** The first `call callee` inside fn: fn's code, its address and the call's offset in it. */
export function firstCall(symbols: BinarySymbols, path: string, fn: string, callee: string): { code: Buffer; address: bigint; fileOffset: number; at: number } | undefined {
  if (!symbols.has(fn) || !symbols.has(callee)) return undefined;
  const f = symbols.resolve(fn, { at: 'entry' });
  const target = symbols.resolve(callee, { at: 'entry' }).address;
  const elf = ElfFile.open(path);
  try {
    const code = elf.read(f.fileOffset, Math.min(f.size, 8192));
    const at = callSites(code, f.address, target, symbols.arch)[0];
    return at === undefined ? undefined : { code, address: f.address, fileOffset: f.fileOffset, at };
  } finally {
    elf.close();
  }
}

/**
 * File offset of the instruction the first `call runtime.nanotime1` in fn returns to, or with
 * `onCallOf` of fn's first call of that function, when a nanotime1 call comes before it.
 * Undefined when there is none.
 */
export function clockReadSiteOf(symbols: BinarySymbols, path: string, fn: string, onCallOf?: string): number | undefined {
  const read = firstCall(symbols, path, fn, 'runtime.nanotime1');
  if (!read || !onCallOf) return read && read.fileOffset + read.at + CALL_LENGTH[symbols.arch];
  if (!symbols.has(onCallOf)) return undefined;
  // The code firstCall already read: the call on which the slot is read must come after.
  const on = callSites(read.code, read.address, symbols.resolve(onCallOf, { at: 'entry' }).address, symbols.arch)[0];
  return on !== undefined && on > read.at ? read.fileOffset + on : undefined;
}

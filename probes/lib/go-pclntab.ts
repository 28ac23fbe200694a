import type { ElfFile } from './elf-file.js';

export interface GoFunction {
  name: string;
  entry: bigint;
  end: bigint;
}

/**
 * Function names and address ranges from Go's pclntab, which survives `-ldflags '-s -w'`:
 * the symbol table of stripped Go binaries. Supports the Go 1.16+ layouts.
 */
export function readGoFunctions(elf: ElfFile): GoFunction[] | undefined {
  const sec = elf.section('.gopclntab') ?? elf.section('.data.rel.ro.gopclntab');
  if (!sec) return undefined;
  const tab = elf.sectionData(sec);
  const magic = tab.readUInt32LE(0);
  const ptrSize = tab[7]!;
  const word = (i: number) => Number(ptrSize === 8 ? tab.readBigUInt64LE(8 + i * ptrSize) : tab.readUInt32LE(8 + i * ptrSize));
  let textStart = 0n;
  let funcnameOff: number;
  let pclnOff: number;
  let relative: boolean;
  const nfunc = word(0);
  if (magic === 0xfffffff0 || magic === 0xfffffff1) {
    // 1.18+: nfunc, nfiles, textStart, funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset
    textStart = BigInt(word(2));
    funcnameOff = word(3);
    pclnOff = word(7);
    relative = true;
    // Go 1.26 stopped recording textStart: functab offsets are then from the start of .text.
    if (textStart === 0n) textStart = elf.section('.text')?.addr ?? 0n;
  } else if (magic === 0xfffffffa) {
    // 1.16–1.17: nfunc, nfiles, funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset
    funcnameOff = word(2);
    pclnOff = word(6);
    relative = false;
  } else {
    return undefined;
  }
  const functab = tab.subarray(pclnOff);
  const entrySize = relative ? 8 : ptrSize * 2;
  const entryAt = (i: number): [bigint, number] =>
    relative
      ? [textStart + BigInt(functab.readUInt32LE(i * 8)), functab.readUInt32LE(i * 8 + 4)]
      : ptrSize === 8
        ? [functab.readBigUInt64LE(i * entrySize), Number(functab.readBigUInt64LE(i * entrySize + 8))]
        : [BigInt(functab.readUInt32LE(i * entrySize)), functab.readUInt32LE(i * entrySize + 4)];
  const out: GoFunction[] = [];
  for (let i = 0; i < nfunc; i++) {
    const [entry, funcOff] = entryAt(i);
    const [end] = entryAt(i + 1);
    // _func: entry (uint32 offset from 1.18, uintptr before), then nameOff int32.
    const nameOff = functab.readInt32LE(funcOff + (relative ? 4 : ptrSize));
    const nameAt = funcnameOff + nameOff;
    const stop = tab.indexOf(0, nameAt);
    out.push({ name: tab.toString('utf8', nameAt, stop), entry, end });
  }
  return out;
}

import type { ElfFile } from './elf-file.js';

export interface GoBuildInfo {
  /** e.g. "go1.22.3" */
  version: string;
  /** Module path of the main package, when recorded. */
  mainModule?: string;
  ptrSize: number;
}

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');

/**
 * The Go version a binary was built with, from `.go.buildinfo` (kept by `-s -w`). Returns
 * undefined for a binary that is not Go. Handles both layouts: inline strings (1.18+) and
 * pointers to string headers (before).
 */
export function readGoBuildInfo(elf: ElfFile): GoBuildInfo | undefined {
  const sec = elf.section('.go.buildinfo');
  if (!sec) return undefined;
  const data = elf.read(sec.offset, Math.min(sec.size, 64 * 1024));
  if (!data.subarray(0, 14).equals(MAGIC)) return undefined;
  const ptrSize = data[14]!;
  const flags = data[15]!;
  let version: string;
  let modinfo = '';
  if (flags & 2) {
    let at = 32;
    const str = () => {
      const [len, n] = uvarint(data, at);
      at += n;
      const s = data.toString('utf8', at, at + len);
      at += len;
      return s;
    };
    version = str();
    modinfo = str();
  } else {
    const readPtr = (o: number) => (ptrSize === 8 ? data.readBigUInt64LE(o) : BigInt(data.readUInt32LE(o)));
    const goString = (headerAddr: bigint) => {
      const hdr = elf.readVaddr(headerAddr, ptrSize * 2);
      const ptr = ptrSize === 8 ? hdr.readBigUInt64LE(0) : BigInt(hdr.readUInt32LE(0));
      const len = Number(ptrSize === 8 ? hdr.readBigUInt64LE(8) : BigInt(hdr.readUInt32LE(4)));
      return len ? elf.readVaddr(ptr, len).toString('utf8') : '';
    };
    version = goString(readPtr(16));
    modinfo = goString(readPtr(16 + ptrSize));
  }
  const mod = /^mod\t(\S+)/m.exec(modinfo)?.[1] ?? /^path\t(\S+)/m.exec(modinfo)?.[1];
  return { version, ptrSize, ...(mod ? { mainModule: mod } : {}) };
}

function uvarint(buf: Buffer, at: number): [number, number] {
  let x = 0;
  let shift = 0;
  for (let i = 0; i < 10; i++) {
    const b = buf[at + i]!;
    x += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [x, i + 1];
    shift += 7;
  }
  throw new Error('bad uvarint in .go.buildinfo');
}

/** "go1.22.3" → [1, 22]; "devel go1.23-abc" → [1, 23]; undefined if unparseable. */
export function goMinorVersion(version: string): [number, number] | undefined {
  const m = /go(\d+)\.(\d+)/.exec(version);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * Just enough ELF64 (little-endian: x86-64, arm64) to place uprobes: sections, program
 * headers and symbols. Reads only the parts it needs, so a 200 MB binary costs little.
 */
export interface ElfSection {
  name: string;
  type: number;
  addr: bigint;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

export interface ElfSegment {
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  filesz: number;
  memsz: number;
}

export interface ElfSymbol {
  name: string;
  value: bigint;
  size: number;
  type: number;
}

const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
export const STT_FUNC = 2;
export const STT_OBJECT = 1;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

export class ElfFile {
  readonly machine: number;
  readonly type: number;
  readonly sections: ElfSection[];
  readonly segments: ElfSegment[];

  private constructor(
    readonly path: string,
    private readonly fd: number,
    readonly size: number,
    header: Buffer,
  ) {
    this.type = header.readUInt16LE(16);
    this.machine = header.readUInt16LE(18);
    const phoff = Number(header.readBigUInt64LE(32));
    const shoff = Number(header.readBigUInt64LE(40));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    const shentsize = header.readUInt16LE(58);
    const shnum = header.readUInt16LE(60);
    const shstrndx = header.readUInt16LE(62);

    const ph = this.read(phoff, phentsize * phnum);
    this.segments = Array.from({ length: phnum }, (_, i) => {
      const o = i * phentsize;
      return {
        type: ph.readUInt32LE(o),
        flags: ph.readUInt32LE(o + 4),
        offset: Number(ph.readBigUInt64LE(o + 8)),
        vaddr: ph.readBigUInt64LE(o + 16),
        filesz: Number(ph.readBigUInt64LE(o + 32)),
        memsz: Number(ph.readBigUInt64LE(o + 40)),
      };
    });

    const sh = shnum ? this.read(shoff, shentsize * shnum) : Buffer.alloc(0);
    const raw = Array.from({ length: shnum }, (_, i) => {
      const o = i * shentsize;
      return {
        nameOff: sh.readUInt32LE(o),
        type: sh.readUInt32LE(o + 4),
        addr: sh.readBigUInt64LE(o + 16),
        offset: Number(sh.readBigUInt64LE(o + 24)),
        size: Number(sh.readBigUInt64LE(o + 32)),
        link: sh.readUInt32LE(o + 40),
        entsize: Number(sh.readBigUInt64LE(o + 56)),
      };
    });
    const names = raw[shstrndx] ? this.read(raw[shstrndx]!.offset, raw[shstrndx]!.size) : Buffer.alloc(0);
    this.sections = raw.map((s) => ({ ...s, name: cstring(names, s.nameOff) }));
  }

  /** Throws an Error that says what the file is when it is not a usable ELF64 LE binary. */
  static open(path: string): ElfFile {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot open (${code ?? (e as Error).message})`);
    }
    try {
      const size = fstatSync(fd).size;
      const header = Buffer.alloc(64);
      const n = readSync(fd, header, 0, 64, 0);
      if (n < 64 || header.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path}: not an ELF binary`);
      if (header[4] !== 2) throw new Error(`${path}: 32-bit ELF binaries are not supported`);
      if (header[5] !== 1) throw new Error(`${path}: big-endian ELF binaries are not supported`);
      return new ElfFile(path, fd, size, header);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  read(offset: number, length: number): Buffer {
    if (offset < 0 || offset + length > this.size) throw new Error(`${this.path}: read past the end of the file (corrupt ELF?)`);
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return buf;
  }

  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  sectionData(s: ElfSection): Buffer {
    return this.read(s.offset, s.size);
  }

  /** Function symbols from .symtab and .dynsym (empty for a stripped binary). */
  functionSymbols(): ElfSymbol[] {
    const out: ElfSymbol[] = [];
    for (const s of this.sections) {
      if (s.type !== SHT_SYMTAB && s.type !== SHT_DYNSYM) continue;
      const strtab = this.sections[s.link];
      if (!strtab || !s.entsize) continue;
      const data = this.sectionData(s);
      const strings = this.sectionData(strtab);
      for (let o = 0; o + 24 <= data.length; o += s.entsize) {
        const info = data[o + 4]!;
        const shndx = data.readUInt16LE(o + 6);
        if ((info & 0xf) !== STT_FUNC || shndx === 0) continue;
        out.push({ name: cstring(strings, data.readUInt32LE(o)), value: data.readBigUInt64LE(o + 8), size: Number(data.readBigUInt64LE(o + 16)), type: STT_FUNC });
      }
    }
    return out;
  }

  /** A data symbol's address (STT_OBJECT) from .symtab, e.g. runtime.allp; undefined when stripped. */
  objectSymbol(name: string): bigint | undefined {
    for (const s of this.sections) {
      if (s.type !== SHT_SYMTAB) continue;
      const strtab = this.sections[s.link];
      if (!strtab || !s.entsize) continue;
      const data = this.sectionData(s);
      const strings = this.sectionData(strtab);
      for (let o = 0; o + 24 <= data.length; o += s.entsize) {
        if ((data[o + 4]! & 0xf) !== STT_OBJECT) continue;
        if (cstring(strings, data.readUInt32LE(o)) === name) return data.readBigUInt64LE(o + 8);
      }
    }
    return undefined;
  }

  /** Lowest PT_LOAD address: what a PIE's load bias is measured from. */
  get baseVaddr(): bigint {
    const loads = this.segments.filter((s) => s.type === PT_LOAD).map((s) => s.vaddr);
    return loads.length ? loads.reduce((a, b) => (b < a ? b : a)) : 0n;
  }

  /** The file offset a uprobe needs for a virtual address: via the PT_LOAD segment holding it. */
  fileOffset(vaddr: bigint): number {
    for (const seg of this.segments) {
      if (seg.type === PT_LOAD && vaddr >= seg.vaddr && vaddr < seg.vaddr + BigInt(seg.filesz)) {
        return Number(vaddr - seg.vaddr) + seg.offset;
      }
    }
    throw new Error(`${this.path}: address 0x${vaddr.toString(16)} is in no loadable segment`);
  }

  /** Bytes at a virtual address (for reading Go data such as buildinfo string headers). */
  readVaddr(vaddr: bigint, length: number): Buffer {
    return this.read(this.fileOffset(vaddr), length);
  }
}

export function cstring(buf: Buffer, offset: number): string {
  const end = buf.indexOf(0, offset);
  return buf.toString('utf8', offset, end < 0 ? buf.length : end);
}

import { ElfFile, EM_AARCH64, EM_X86_64 } from './elf-file.js';
import { goMinorVersion, readGoBuildInfo, type GoBuildInfo } from './go-buildinfo.js';
import { readGoFunctions } from './go-pclntab.js';
import { goStackCheck, type StackCheck } from './go-prologue.js';

export interface ResolvedFunction {
  name: string;
  /** Virtual address of the function's entry. */
  address: bigint;
  size: number;
  /** File offset of the entry; a uprobe is attached at fileOffset + attachDelta. */
  fileOffset: number;
  /** Bytes past the entry where the probe goes. */
  attachDelta: number;
  /** Set when the probe sits on a Go prologue's jbe: BPF must skip hits that go to morestack. */
  stackCheck?: StackCheck['reg'];
  source: 'symtab' | 'gopclntab';
}

/**
 * Everything needed to place uprobes in one binary: its function table (ELF symbols,
 * falling back to Go's pclntab for stripped Go binaries) and whether it is Go.
 */
export class BinarySymbols {
  readonly go?: GoBuildInfo;
  readonly arch: 'x86_64' | 'aarch64';
  private readonly functions = new Map<string, { address: bigint; size: number; source: ResolvedFunction['source'] }>();
  private constructor(
    private readonly elf: ElfFile,
    go = readGoBuildInfo(elf),
  ) {
    if (elf.machine === EM_X86_64) this.arch = 'x86_64';
    else if (elf.machine === EM_AARCH64) this.arch = 'aarch64';
    else throw new Error(`${elf.path}: unsupported machine ${elf.machine} (x86-64 and arm64 are supported)`);
    if (go) this.go = go;
    for (const s of elf.functionSymbols()) this.add(s.name, s.value, s.size, 'symtab');
    if (go) {
      // pclntab also fills the gaps of a partially stripped binary.
      for (const f of readGoFunctions(elf) ?? []) this.add(f.name, f.entry, Number(f.end - f.entry), 'gopclntab');
    }
  }

  static open(path: string): BinarySymbols {
    const elf = ElfFile.open(path);
    try {
      return new BinarySymbols(elf);
    } finally {
      elf.close();
    }
  }

  /**
   * The symbols of a Go binary; undefined for any other, told from its section headers alone.
   * A node runs many binaries that are not Go (the agent's own node has ~100k symbols, 40 MB
   * as a function table) and every short-lived process is checked anew: its symbol table must
   * not be read just to find out.
   */
  static openGo(path: string): BinarySymbols | undefined {
    const elf = ElfFile.open(path);
    try {
      const go = readGoBuildInfo(elf);
      return go ? new BinarySymbols(elf, go) : undefined;
    } finally {
      elf.close();
    }
  }

  /** ABI wrappers share their function's name; the real body is the larger one. */
  private add(name: string, address: bigint, size: number, source: ResolvedFunction['source']): void {
    const prev = this.functions.get(name);
    // .symtab wins over pclntab (whose sizes include alignment padding).
    if (prev && prev.source !== source) return;
    if (!prev || size > prev.size) this.functions.set(name, { address, size, source });
  }

  get functionCount(): number {
    return this.functions.size;
  }

  get goVersion(): [number, number] | undefined {
    return this.go ? goMinorVersion(this.go.version) : undefined;
  }

  has(name: string): boolean {
    return this.functions.has(name);
  }

  names(): IterableIterator<string> {
    return this.functions.keys();
  }

  /**
   * The attach point for `name`. In Go functions with a stack-check prologue: `stack_check`
   * (our own BPF programs: on the emulated jbe, hits bound for morestack skipped in BPF),
   * `after_prologue` (any BPF program: no double counting, but single-stepped), or `entry`.
   * Throws with near matches when the function is not there.
   */
  resolve(name: string, opts: { at?: 'entry' | 'after_prologue' | 'stack_check' } = {}): ResolvedFunction {
    const f = this.functions.get(name);
    if (!f) {
      const near = [...this.functions.keys()].filter((n) => n.endsWith(name.split('.').pop()!)).slice(0, 5);
      throw new Error(`${this.elf.path}: no function "${name}"${near.length ? `; similar: ${near.join(', ')}` : ''}`);
    }
    const fileOffset = reopen(this.elf.path, (elf) => elf.fileOffset(f.address));
    const at = opts.at ?? 'after_prologue';
    if (this.go && at !== 'entry') {
      const code = reopen(this.elf.path, (elf) => elf.read(fileOffset, Math.min(32, Math.max(f.size, 1))));
      const check = goStackCheck(code, this.arch);
      if (check && at === 'stack_check') return { name, address: f.address, size: f.size, fileOffset, attachDelta: check.jbe, stackCheck: check.reg, source: f.source };
      if (check) return { name, address: f.address, size: f.size, fileOffset, attachDelta: check.after, source: f.source };
    }
    return { name, address: f.address, size: f.size, fileOffset, attachDelta: 0, source: f.source };
  }
}

function reopen<T>(path: string, fn: (elf: ElfFile) => T): T {
  const elf = ElfFile.open(path);
  try {
    return fn(elf);
  } finally {
    elf.close();
  }
}

import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { ElfFile } from '../elf-file.js';

/**
 * Reads a process's memory through /proc/PID/mem (root, or ptrace rights over it). Addresses
 * are link-time addresses shifted by the load bias of a PIE executable.
 */
export class ProcessMemory {
  private readonly fd: number;
  private readonly buf = Buffer.alloc(8);

  constructor(
    readonly pid: number,
    readonly bias: bigint,
  ) {
    this.fd = openSync(`/proc/${pid}/mem`, 'r');
  }

  /** The memory of a process's main executable, link-time addresses shifted by its load bias. */
  static ofExecutable(pid: number): ProcessMemory {
    const elf = ElfFile.open(`/proc/${pid}/exe`);
    const base = elf.baseVaddr;
    elf.close();
    return new ProcessMemory(pid, ProcessMemory.loadBias(pid, base));
  }

  /** Load bias of the main executable: where its first mapping is minus where it was linked. */
  static loadBias(pid: number, baseVaddr: bigint): bigint {
    const exe = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')[0];
    const start = BigInt('0x' + (exe?.split('-')[0] ?? '0'));
    const linked = baseVaddr & ~0xfffn;
    return start - linked;
  }

  // allocUnsafe: small reads come from Node's pool (a zeroed ArrayBuffer each was most of a
  // gauge read's garbage), and a short read throws before any stale byte is looked at.
  read(addr: bigint, len: number, into = Buffer.allocUnsafe(len)): Buffer {
    const n = readSync(this.fd, into, 0, len, Number(addr + this.bias));
    if (n !== len) throw new Error(`short read of pid ${this.pid} at 0x${addr.toString(16)}`);
    return into;
  }

  /** An address read from the process: already in its address space, no bias. */
  readAt(addr: bigint, len: number): Buffer {
    const into = Buffer.allocUnsafe(len);
    const n = readSync(this.fd, into, 0, len, Number(addr));
    if (n !== len) throw new Error(`short read of pid ${this.pid} at 0x${addr.toString(16)}`);
    return into;
  }

  u64(addr: bigint): bigint {
    return this.read(addr, 8, this.buf).readBigUInt64LE(0);
  }

  close(): void {
    closeSync(this.fd);
  }
}

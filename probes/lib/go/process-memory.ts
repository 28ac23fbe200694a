import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { native } from '../../../engine/bpf/native.js';
import { ElfFile } from '../elf-file.js';

/**
 * The u64 at byte `at` of memory read into a DataView, as a number: exact below 2^53, which
 * every address and byte count the probe reads is.
 */
export function u64Of(v: DataView, at: number): number {
  return v.getUint32(at, true) + v.getUint32(at + 4, true) * 4294967296;
}

/**
 * Ranges of a process's memory read in one native call, into one buffer: made once per
 * process and reused every interval (addresses as numbers: user space is below 2^53).
 */
export class MemoryRanges {
  private ranges = new Float64Array(16);
  count = 0;
  private bytes = 0;
  /** What the last read brought, ranges one after another. */
  out = Buffer.alloc(0);
  /**
   * `out` as a DataView: Buffer's readUInt32LE and kin allocate on every call under the image's
   * interpreter (their argument check takes rest parameters); a DataView's getters do not.
   */
  view = new DataView(this.out.buffer, this.out.byteOffset, 0);

  clear(): void {
    this.count = this.bytes = 0;
  }

  /** A range to read; where its bytes will start in `out`. */
  add(address: number, length: number): number {
    if (this.count * 2 === this.ranges.length) {
      const grown = new Float64Array(this.ranges.length * 2);
      grown.set(this.ranges);
      this.ranges = grown;
    }
    this.ranges[this.count * 2] = address;
    this.ranges[this.count * 2 + 1] = length;
    this.count++;
    const at = this.bytes;
    this.bytes += length;
    return at;
  }

  /** @internal ProcessMemory's side: the ranges, and `out` sized for them. */
  prepare(): Float64Array {
    if (this.out.length < this.bytes) {
      this.out = Buffer.alloc(this.bytes);
      this.view = new DataView(this.out.buffer, this.out.byteOffset, this.out.length);
    }
    return this.ranges;
  }
}

/**
 * Reads a process's memory through /proc/PID/mem (root, or ptrace rights over it). Addresses
 * are link-time addresses shifted by the load bias of a PIE executable.
 */
export class ProcessMemory {
  private readonly fd: number;
  private readonly buf = Buffer.alloc(8);
  /** The load bias as a number, for MemoryRanges' addresses. */
  readonly biasNumber: number;

  constructor(
    readonly pid: number,
    readonly bias: bigint,
  ) {
    this.fd = openSync(`/proc/${pid}/mem`, 'r');
    this.biasNumber = Number(bias);
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

  /**
   * Every range, absolute addresses (add biasNumber to a link-time one), in one call: a
   * syscall each, but none of fs.readSync's per-call work. Throws when one cannot be read.
   */
  readRanges(r: MemoryRanges): DataView {
    const ranges = r.prepare();
    const done = native().preadRanges(this.fd, ranges, r.count, r.out);
    if (done !== r.count) throw new Error(`short read of pid ${this.pid} at 0x${ranges[done * 2]!.toString(16)}`);
    return r.view;
  }

  u64(addr: bigint): bigint {
    return this.read(addr, 8, this.buf).readBigUInt64LE(0);
  }

  close(): void {
    closeSync(this.fd);
  }
}

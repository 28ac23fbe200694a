import { existsSync } from 'node:fs';
import { release as osRelease } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../util/package-root.js';
import { trackRelease } from './kernel-releases.js';
import { flushLibbpfLog, native, type NativeBpfObject, type NativeMapInfo, type NativeRingBuffer } from './native.js';

/** Link ids of program copies start here; the binding numbers its own links from 1. */
const COPY_LINK_BASE = 1 << 30;

/** The BPF architecture name (bpf/Makefile, __TARGET_ARCH_*) of the machine the agent runs on. */
export function bpfArch(arch: string = process.arch): 'x86' | 'arm64' {
  if (arch === 'x64') return 'x86';
  if (arch === 'arm64') return 'arm64';
  throw new Error(`probeflow's BPF programs are built for x86-64 and arm64, not ${arch}`);
}

/** Compiled objects of bpf/*.bpf.c, one directory per architecture (bpf/x86, bpf/arm64). */
export function bundledObjectPath(name: string): string {
  const p = join(PACKAGE_ROOT, 'bpf', bpfArch(), `${name}.bpf.o`);
  if (!existsSync(p)) throw new Error(`BPF object ${p} is missing: run \`npm run build\` (needs clang)`);
  return p;
}

export interface MapEntries {
  count: number;
  keySize: number;
  /** Bytes per entry in `values`; for per-CPU maps, cpus × round8(valueSize). */
  valueStride: number;
  cpus: number;
  /** Read with BPF_MAP_LOOKUP_BATCH (Linux 5.6+): a syscall per 256 entries, not two per entry. */
  batched: boolean;
  keys: Buffer;
  values: Buffer;
  /**
   * `values` as 32-bit words in host order (map values are the kernel's, in host order): a
   * typed load per half of a u64 instead of Buffer.readUInt32LE's checks and byte assembly,
   * which was a third of the go_runtime read with 100 processes' pause histograms.
   */
  words: Uint32Array;
  /** `keys` as 32-bit words in host order: pids, cookies and reasons are u32 fields of keys. */
  keyWords: Uint32Array;
}

/** PROBEFLOW_MAP_BATCH=off reads entry by entry, as on kernels before 5.6 (tests compare both). */
const batchReads = () => process.env.PROBEFLOW_MAP_BATCH !== 'off';

/**
 * uprobe_multi links came with Linux 6.6 (BPF_TRACE_UPROBE_MULTI); CCE's 4.18–5.10 kernels lack
 * them. PROBEFLOW_UPROBE_MULTI=off takes the single-link path anyway (tests run it here; an
 * operator can, should a kernel misbehave). The link tells its offsets apart only by their
 * cookies, so without attach cookies (or with PROBEFLOW_ATTACH_COOKIES=off) it is not used either.
 */
export function kernelHasUprobeMulti(release = osRelease()): boolean {
  if (process.env.PROBEFLOW_UPROBE_MULTI === 'off') return false;
  const [major = 0, minor = 0] = release.split(/[.-]/).map(Number);
  return (major > 6 || (major === 6 && minor >= 6)) && kernelHasAttachCookies();
}

let attachCookies: boolean | undefined;

/**
 * bpf_get_attach_cookie came with Linux 5.15 (CCE's 4.18–5.10 kernels lack it). Without it a
 * program cannot tell which attachment fired, so BpfObject loads a copy per cookie instead.
 * PROBEFLOW_ATTACH_COOKIES=off takes that path on any kernel (tests run it here).
 */
export function kernelHasAttachCookies(): boolean {
  if (process.env.PROBEFLOW_ATTACH_COOKIES === 'off') return false;
  // 2 = BPF_PROG_TYPE_KPROBE (uprobes and kprobes), 174 = BPF_FUNC_get_attach_cookie.
  return (attachCookies ??= native().probeHelper(2, 174) === 1);
}

/** A map update refused because the map holds max_entries already. */
export class MapFullError extends Error {
  constructor(
    readonly map: string,
    readonly maxEntries: number,
  ) {
    super(`map ${map} is full (${maxEntries} entries)`);
  }
}

/**
 * One loaded BPF object and everything attached from it. `close()` destroys every link,
 * ring buffer, program and map it holds — the teardown of a probe's subscription.
 */
export class BpfObject {
  private readonly obj: NativeBpfObject;
  private readonly rings = new Set<NativeRingBuffer>();
  private readonly multi = new Set<string>();
  private closed = false;
  /** What was set before load, replayed on the per-cookie copies. */
  private readonly globals = new Map<string, Buffer>();
  private readonly sizes = new Map<string, number>();
  /** Kernels without attach cookies: a loaded copy of a program per (program, cookie). */
  private readonly copies = new Map<string, BpfObject>();
  /** Links made on a copy, under ids of their own (above COPY_LINK_BASE) so detach finds them. */
  private readonly copyLinks = new Map<number, { copy: BpfObject; link: number }>();
  private nextCopyLink = COPY_LINK_BASE;

  constructor(readonly path: string) {
    this.obj = new (native().BpfObject)(path);
  }

  /** Writes a `const volatile` global before load. */
  setGlobal(name: string, value: Buffer): this {
    this.obj.setGlobal(name, value);
    this.globals.set(name, value);
    return this;
  }

  setU32(name: string, v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    return this.setGlobal(name, b);
  }

  /** Programs not needed by a probe are not loaded (e.g. a kprobe program on a uprobe-only run). */
  only(...programs: string[]): this {
    for (const p of this.obj.programs()) this.obj.setAutoload(p.name, programs.includes(p.name));
    return this;
  }

  /** Sizes a map before load (a config's `max_processes`, say). */
  setMaxEntries(map: string, entries: number): this {
    this.obj.setMaxEntries(map, entries);
    this.sizes.set(map, entries);
    return this;
  }

  load(): this {
    // Without attach cookies the program must not call the helper at all (the verifier refuses
    // it): this object answers for cookie 0, its copies for the others.
    if (!kernelHasAttachCookies() && !this.globals.has('cookie_fixed')) {
      try {
        this.setGlobal('cookie_fixed', Buffer.from([1]));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; // an object that reads no cookie
      }
    }
    try {
      this.obj.load();
    } finally {
      flushLibbpfLog();
    }
    return this;
  }

  programs(): string[] {
    return this.obj.programs().map((p) => p.name);
  }

  maps(): NativeMapInfo[] {
    return this.obj.maps();
  }

  attachUprobe(program: string, binary: string, fileOffset: number, pid: number, cookie: number): number {
    return this.withCookie(program, cookie, (obj, c) => obj.attachUprobe(program, binary, fileOffset, pid, c));
  }

  /**
   * Before load: attach `program` with uprobe_multi links where the kernel has them (6.6+).
   * The kernel takes ~0.1 s to close each single uprobe link, one after another; a uprobe_multi
   * link of any size closes in ~40 ms (bench/RESULTS.md). The program then serves uprobes only.
   */
  preferUprobeMulti(program: string): this {
    if (kernelHasUprobeMulti()) {
      this.obj.useUprobeMulti(program);
      this.multi.add(program);
    }
    return this;
  }

  /**
   * Entry uprobes at each point of one binary: one uprobe_multi link if preferUprobeMulti took,
   * else a link per point. A point that cannot be attached is reported to `failed` and the
   * others are attached; the link ids come back.
   */
  attachUprobes(program: string, binary: string, points: readonly { fileOffset: number; cookie: number }[], failed: (index: number, e: Error) => void): number[] {
    if (!this.multi.has(program)) {
      const links: number[] = [];
      points.forEach((p, i) => {
        try {
          links.push(this.attachUprobe(program, binary, p.fileOffset, -1, p.cookie));
        } catch (e) {
          failed(i, e as Error);
        }
      });
      return links;
    }
    if (points.length === 0) return [];
    try {
      return [this.obj.attachUprobeMulti(program, binary, points.map((p) => p.fileOffset), points.map((p) => p.cookie), 0)];
    } catch (e) {
      // All or nothing in the kernel: find the points that fail, and keep the rest in one link.
      const good: number[] = [];
      points.forEach((p, i) => {
        try {
          this.detach([this.obj.attachUprobeMulti(program, binary, [p.fileOffset], [p.cookie], 0)]);
          good.push(i);
        } catch (single) {
          failed(i, single as Error);
        }
      });
      if (good.length === 0) return [];
      if (good.length === points.length) throw e;
      return [this.obj.attachUprobeMulti(program, binary, good.map((i) => points[i]!.fileOffset), good.map((i) => points[i]!.cookie), 0)];
    }
  }

  attachTracepoint(program: string, category: string, name: string, cookie: number): number {
    return this.withCookie(program, cookie, (obj, c) => obj.attachTracepoint(program, category, name, c));
  }

  attachRawTracepoint(program: string, name: string): number {
    return this.obj.attachRawTracepoint(program, name);
  }

  attachKprobe(program: string, func: string, cookie: number): number {
    return this.withCookie(program, cookie, (obj, c) => obj.attachKprobe(program, func, false, c));
  }

  /**
   * Attaches with the cookie where the kernel has attach cookies; elsewhere on this program's
   * copy for that cookie (bpf/common.h point_cookie), loaded on first use with the same
   * globals and sizes, every map shared with this object. A copy's link gets an id of ours.
   */
  private withCookie(program: string, cookie: number, attach: (obj: NativeBpfObject, cookie: number) => number): number {
    if (cookie === 0 || kernelHasAttachCookies()) return attach(this.obj, cookie);
    const key = `${program}#${cookie}`;
    let copy = this.copies.get(key);
    if (!copy) {
      copy = new BpfObject(this.path);
      try {
        // The globals carry cookie_fixed: load() set it on this object, which is loaded by now.
        for (const [name, value] of this.globals) copy.setGlobal(name, value);
        for (const [map, entries] of this.sizes) copy.setMaxEntries(map, entries);
        const c = Buffer.alloc(8);
        c.writeBigUInt64LE(BigInt(cookie));
        copy.setGlobal('fixed_cookie', c);
        copy.only(program);
        copy.obj.reuseMapsFrom(this.obj);
        copy.load();
      } catch (e) {
        copy.close();
        throw e;
      }
      this.copies.set(key, copy);
    }
    const link = attach(copy.obj, 0);
    const id = this.nextCopyLink++;
    this.copyLinks.set(id, { copy, link });
    return id;
  }

  /** Program copies loaded because the kernel has no attach cookies (0 where it has them). */
  cookieCopies(): number {
    return this.copies.size;
  }

  attach(program: string): number {
    return this.obj.attach(program);
  }

  /** Kernel id of a link (as `bpftool link` shows it); 0 for perf-event attachments without one. */
  linkId(link: number): number {
    const c = this.copyLinks.get(link);
    return c ? c.copy.linkId(c.link) : this.obj.linkId(link);
  }

  /** Lets go of these links; the kernel closes them off the main thread (kernel-releases.ts). */
  detach(links: readonly number[]): void {
    const own = links.filter((l) => l < COPY_LINK_BASE);
    if (own.length) trackRelease(this.obj.detachAsync(own), this.path);
    for (const l of links) {
      const c = this.copyLinks.get(l);
      if (!c) continue;
      this.copyLinks.delete(l);
      c.copy.detach([c.link]);
    }
  }

  readMap(name: string): MapEntries {
    const m = this.obj.readMap(name, batchReads());
    return { ...m, words: hostWords(m.values), keyWords: hostWords(m.keys) };
  }

  /** Only the keys, for sweeps (what an exited process left): no values copied out. */
  readKeys(name: string): { count: number; keySize: number; keys: Buffer } {
    return this.obj.readKeys(name, batchReads());
  }

  /** Throws MapFullError when a hash map has no room: the kernel's E2BIG says nothing of maps. */
  update(map: string, key: Buffer, value: Buffer): void {
    try {
      this.obj.updateElem(map, key, value);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'E2BIG') throw e;
      throw new MapFullError(map, this.obj.maps().find((m) => m.name === map)?.maxEntries ?? 0);
    }
  }

  delete(map: string, key: Buffer): boolean {
    return this.obj.deleteElem(map, key);
  }

  /** Records arrive in one Buffer per wakeup; `onRecords` gets each record's bytes. */
  openRingBuffer(map: string, onRecords: (records: Buffer[]) => void): { drain(): void; close(): void } {
    const rb = new (native().RingBuffer)(this.obj, map, (buf) => onRecords(splitRecords(buf)));
    this.rings.add(rb);
    return {
      drain: () => void rb.drain(),
      close: () => {
        rb.close();
        this.rings.delete(rb);
      },
    };
  }

  /** Closed for JS at once; links, programs and maps are released off the main thread. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const rb of this.rings) rb.close();
    this.rings.clear();
    for (const copy of this.copies.values()) copy.close();
    this.copies.clear();
    this.copyLinks.clear();
    trackRelease(this.obj.closeAsync(), this.path);
  }
}

/** A map key or value holding one little-endian u32 (pids, cookies, indexes). */
export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

/** Inverse of the binding's framing: [u32 len][bytes][pad to 8]… */
export function splitRecords(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at + 4 <= buf.length) {
    const len = buf.readUInt32LE(at);
    out.push(buf.subarray(at + 4, at + 4 + len));
    at += 4 + len + ((8 - ((4 + len) % 8)) % 8);
  }
  return out;
}

/** A little-endian u64 of a map value as a number (exact below 2^53), without a BigInt. */
export function readU64(b: Buffer, at: number): number {
  return b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 4294967296;
}

/** The low word comes first: the agent runs on x86-64 and arm64, both little-endian. */
const LOW_WORD_FIRST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** A Buffer's bytes as host-order u32 words: a view when aligned (the binding's are), else a copy. */
function hostWords(b: Buffer): Uint32Array {
  if (!LOW_WORD_FIRST) throw new Error('probeflow reads BPF maps on little-endian machines only');
  if (b.byteOffset % 4 === 0) return new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2);
  const words = new Uint32Array(b.length >>> 2);
  new Uint8Array(words.buffer).set(b.subarray(0, words.length * 4));
  return words;
}

/**
 * The u64 at byte offset `at` (a multiple of 4) of a map's values, as a number (exact below
 * 2^53). A zero high word leaves the low one as it came, a small integer: the product would be
 * a heap-allocated double, and an array it is stored in (a histogram's counts) would hold
 * doubles, boxed again at every read of it under the image's interpreter.
 */
export function u64At(words: Uint32Array, at: number): number {
  const w = at >>> 2;
  const high = words[w + 1]!;
  return high === 0 ? words[w]! : words[w]! + high * 4294967296;
}

/**
 * Sums a per-CPU u64 at `offset` across CPU slots of one value, as a number: exact below 2^53
 * (counters of nanoseconds reach that after 104 days of summed time), without a BigInt per CPU.
 */
export function sumPerCpu(m: MapEntries, entry: number, offset: number): number {
  const slot = m.valueStride / m.cpus;
  let total = 0;
  for (let c = 0, at = entry * m.valueStride + offset; c < m.cpus; c++, at += slot) total += u64At(m.words, at);
  return total;
}

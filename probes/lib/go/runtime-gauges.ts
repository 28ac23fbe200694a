import type { GcControllerOffsets, GoOffsets } from './offsets.js';
import { gcControllerSize, parseGcController, type GcControllerState } from './gc-controller.js';
import { MemoryRanges, u64Of, type ProcessMemory } from './process-memory.js';
import type { RuntimeGlobals } from './runtime-globals.js';

export interface RuntimeGauges {
  /** Local run-queue length of each P, by P index (runnext counts as one). */
  runq: number[];
  /** Ms running or spinning: mcount − idle − idle-locked − system (as runtime.checkdead counts). */
  nonIdleMs: number;
  /** runtime.gcount(): all Gs − free Gs − system Gs; undefined without allglen. */
  goroutines?: number;
  /** runtime.mcount(): Ms (OS threads) the runtime has, mnext − nmfreed. */
  threads: number;
  /** GOMAXPROCS: len(allp), which procresize keeps equal to it. */
  gomaxprocs: number;
}

/**
 * Why allglen cannot be trusted in this process, or undefined when it can: it must equal
 * len(allgs), which allgadd stores it from under allglock (read a few times: a goroutine being
 * created in between moves both).
 */
export function allglenProblem(mem: ProcessMemory, g: RuntimeGlobals): string | undefined {
  if (g.allglen === undefined) return 'runtime.allglen not found (no symbol table, and runtime.allgadd did not match the known code)';
  if (g.allgsLen === undefined) return undefined;
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const n = mem.u64(g.allglen);
    const len = mem.u64(g.allgsLen);
    if (n === len && n >= 1n && n <= 10_000_000n) return undefined;
    last = `allglen ${n} but len(allgs) ${len}`;
  }
  return `runtime.allglen at 0x${g.allglen.toString(16)} does not check out in this process (${last})`;
}

/** One consistent-enough read of the scheduler state (see RuntimeStateReader). */
export function readRuntimeGauges(mem: ProcessMemory, g: RuntimeGlobals, o: GoOffsets): RuntimeGauges {
  return new RuntimeStateReader(mem, { globals: g, offsets: o }).read().gauges!;
}

const SCHED_BYTES = 256;

/**
 * What the probe reads of one Go process's memory every interval: the scheduler's counters
 * and every P's run queue, and the GC pacer's state. Go updates these without locks we can
 * take, so each value is a snapshot, as runtime.gcount() itself says of its own.
 *
 * One native call reads it all, as a rule: where each P is comes from allp, and a P pointer,
 * once procresize has set it, stays until allp itself moves (a new backing array) or changes
 * length, so the Ps are read beside allp at the addresses the last read found, and again only
 * when allp differs.
 */
export class RuntimeStateReader {
  private readonly ranges = new MemoryRanges();
  /** allp's backing array and length at the last read, and the P pointers in it. */
  private ps?: { array: number; len: number; pointers: number[] };
  /** A P's fields in one range (runqhead … runnext spans its 256-slot run queue, ~2 KiB). */
  private readonly pFirst: number = 0;
  private readonly pBytes: number = 0;

  constructor(
    private readonly mem: ProcessMemory,
    private readonly sched?: { globals: RuntimeGlobals; offsets: GoOffsets },
    private readonly pacer?: { address: bigint; offsets: GcControllerOffsets },
  ) {
    if (sched) {
      const o = sched.offsets;
      this.pFirst = Math.min(o.pRunqhead, o.pRunnext, o.pGfreeN ?? Infinity);
      this.pBytes = Math.max(o.pRunqhead + 8, o.pRunnext + 8, o.pGfreeN === undefined ? 0 : o.pGfreeN + 4) - this.pFirst;
    }
  }

  read(): { gauges?: RuntimeGauges; pacer?: GcControllerState } {
    const r = this.ranges;
    const bias = this.mem.biasNumber;
    r.clear();
    const g = this.sched?.globals;
    const o = this.sched?.offsets;
    const goroutines = g?.allglen !== undefined && o?.schedGfreeN !== undefined && o.pGfreeN !== undefined;
    const atSched = g ? r.add(Number(g.sched) + bias, SCHED_BYTES) : -1;
    const atAllp = g ? r.add(Number(g.allp) + bias, 16) : -1;
    const atAllglen = goroutines ? r.add(Number(g!.allglen!) + bias, 8) : -1;
    const atPacer = this.pacer ? r.add(Number(this.pacer.address) + bias, gcControllerSize(this.pacer.offsets)) : -1;
    const atPs = this.ps?.pointers.map((p) => r.add(p + this.pFirst, this.pBytes));
    let b = this.mem.readRanges(r);
    let pacer: GcControllerState | undefined;
    try {
      pacer = this.pacer ? parseGcController(b, atPacer, this.pacer.offsets) : undefined;
    } catch {
      // Caught mid-update (GOGC being set): the pacer's gauges skip this read, the rest do not.
    }
    if (!g || !o) return { ...(pacer ? { pacer } : {}) };

    const i32 = (off: number) => b.getInt32(atSched + off, true);
    const mcount = i32(o.schedMnext) - i32(o.schedNmfreed);
    const nonIdleMs = mcount - i32(o.schedNmidle) - i32(o.schedNmidlelocked) - i32(o.schedNmsys);
    const freeInSched = goroutines ? i32(o.schedGfreeN!) + b.getUint32(atSched + o.schedNgsys, true) : 0;
    const allglen = goroutines ? u64Of(b, atAllglen) : 0;
    const array = u64Of(b, atAllp);
    const len = u64Of(b, atAllp + 8);
    if (len < 0 || len > 4096) throw new Error(`runtime.allp has ${len} entries: wrong address or offsets`);

    let pAt = atPs;
    if (!this.ps || this.ps.array !== array || this.ps.len !== len) {
      // allp moved or changed length (GOMAXPROCS, or the first read): where the Ps are now.
      const pointers: number[] = [];
      const ps = len ? this.mem.readAt(BigInt(array), len * 8) : Buffer.alloc(0);
      const view = new DataView(ps.buffer, ps.byteOffset, ps.length);
      for (let i = 0; i < len; i++) pointers.push(u64Of(view, i * 8));
      // Mid-procresize a slot may still be nil: not kept, looked up again next time.
      this.ps = pointers.every((p) => p !== 0) ? { array, len, pointers } : undefined;
      r.clear();
      pAt = pointers.map((p) => (p ? r.add(p + this.pFirst, this.pBytes) : -1));
      b = pointers.some((p) => p) ? this.mem.readRanges(r) : b;
    }
    const runq: number[] = [];
    let freeInPs = 0;
    for (let i = 0; i < len; i++) {
      const at = pAt![i]!;
      if (at < 0) continue;
      const head = at + o.pRunqhead - this.pFirst;
      const next = at + o.pRunnext - this.pFirst;
      runq[i] = ((b.getUint32(head + 4, true) - b.getUint32(head, true)) >>> 0) + (b.getUint32(next, true) || b.getUint32(next + 4, true) ? 1 : 0);
      if (o.pGfreeN !== undefined) freeInPs += b.getInt32(at + o.pGfreeN - this.pFirst, true);
    }
    const gauges: RuntimeGauges = { runq, nonIdleMs, threads: mcount, gomaxprocs: len, ...(goroutines ? { goroutines: Math.max(1, allglen - freeInSched - freeInPs) } : {}) };
    return { gauges, ...(pacer ? { pacer } : {}) };
  }
}

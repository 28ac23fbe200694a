import { BpfObject, bundledObjectPath, readU64, sumPerCpu, u32 } from '../../../engine/bpf/bpf-object.js';
import type { HistogramSample, Labels, Sample } from '../../../engine/model/sample.js';
import { CLASS_TO_SIZE, type GoOffsets } from './offsets.js';
import { waitReasonName } from './wait-reasons.js';

/** Attachment cookies: which runtime function a probe sits on (see bpf/go_runtime.bpf.c). */
export const POINTS = {
  park: { cookie: 0, symbol: 'runtime.gopark' },
  wake: { cookie: 1, symbol: 'runtime.casgstatus' },
  stwStop: { cookie: 2, symbol: 'runtime.stopTheWorldWithSema' },
  stwStart: { cookie: 3, symbol: 'runtime.startTheWorldWithSema' },
  gcMarkTerm: { cookie: 4, symbol: 'runtime.gcMarkTermination' },
  newproc: { cookie: 5, symbol: 'runtime.newproc1' },
  goexit: { cookie: 6, symbol: 'runtime.goexit1' },
  malloc: { cookie: 7, symbol: 'runtime.mallocgc' },
  refill: { cookie: 8, symbol: 'runtime.(*mcache).refill' },
  releaseAll: { cookie: 9, symbol: 'runtime.(*mcache).releaseAll' },
  allocLarge: { cookie: 10, symbol: 'runtime.(*mcache).allocLarge' },
  ready: { cookie: 11, symbol: 'runtime.ready' },
  injectglist: { cookie: 12, symbol: 'runtime.injectglist' },
} as const;
export type PointName = keyof typeof POINTS;

const C_GC_CYCLES = 0;
const C_CREATED = 1;
const C_EXITED = 2;
const C_ALLOC_SPANS = 3;
const C_ALLOC_LARGE = 4;

/** STW pause buckets: 2^10 ns (~1 µs) … 2^36 ns (~69 s); the in-kernel log2 slots fold into them. */
const STW_FIRST_SLOT = 10;
const STW_LAST_SLOT = 36;
export const STW_BOUNDS: readonly number[] = Array.from({ length: STW_LAST_SLOT - STW_FIRST_SLOT + 1 }, (_, i) => 2 ** (STW_FIRST_SLOT + i) / 1e9);
const STW_PHASES = ['unknown', 'mark_termination', 'sweep_termination', 'other'];
const GC_PAUSE_HELP = 'GC stop-the-world pauses (stopTheWorldWithSema to startTheWorldWithSema), by phase where the Go version tells it (1.21+; "unknown" before, where non-GC pauses are counted too)';
const OTHER_PAUSE_HELP = 'Stop-the-world pauses that are not GC (ReadMemStats, goroutine profiles, GOMAXPROCS, traces…), Go 1.21+';

/**
 * A pause histogram of one process: GC pauses by phase in go_gc_pause_seconds, as Go's own
 * /sched/pauses/total/gc:seconds; the world stopped for anything else (phase "other", told by
 * stopTheWorldWithSema's reason from 1.21) in go_sched_pauses_other_seconds, as
 * /sched/pauses/total/other:seconds.
 */
function pauseHistogram(p: GoProcess, phase: string, timestamp: number, counts: number[], sum: number, count: number): HistogramSample {
  const other = phase === 'other';
  return {
    kind: 'histogram',
    name: other ? 'go_sched_pauses_other_seconds' : 'go_gc_pause_seconds',
    labels: other ? p.labels : { ...p.labels, phase },
    timestamp,
    bounds: STW_BOUNDS,
    counts,
    sum,
    count,
    help: other ? OTHER_PAUSE_HELP : GC_PAUSE_HELP,
  };
}

export interface GoProcess {
  pid: number;
  minor: number;
  labels: Labels;
  /** With stwReason, pauses come by phase (Go 1.21+ with an offset table); else as phase "unknown". */
  offsets?: Pick<GoOffsets, 'stwReason'>;
}

/**
 * User-space side of bpf/go_runtime.bpf.c: registers processes with their offsets and turns
 * the maps into samples.
 */
/** The size of the `procs` map unless a config says `max_processes` (the schema's default). */
export const DEFAULT_MAX_PROCESSES = 4096;

export class GoRuntimeMaps {
  readonly obj: BpfObject;
  /** Wait reasons each process has had goroutines parked on: their gauges go to 0, not away. */
  private readonly waitReasons = new Map<number, Set<number>>();

  constructor(maxProcesses = DEFAULT_MAX_PROCESSES) {
    this.obj = new BpfObject(bundledObjectPath('go_runtime'));
    try {
      this.obj.setMaxEntries('procs', maxProcesses).preferUprobeMulti('on_go').load();
      CLASS_TO_SIZE.forEach((size, i) => this.obj.update('class_size', u32(i), u32(size)));
    } catch (e) {
      this.obj.close();
      throw e;
    }
  }

  /** Starts recording a process. Offsets undefined: only offset-free metrics are recorded. */
  addProcess(pid: number, o: GoOffsets | undefined): void {
    const v = Buffer.alloc(24);
    v.writeUInt32LE(o?.gGoid ?? 0, 0);
    v.writeUInt32LE(o?.mcacheAlloc ?? 0, 4);
    v.writeUInt32LE(o?.spanAllocCount ?? 0, 8);
    v.writeUInt32LE(o?.spanAllocCountBeforeCache ?? 0, 12);
    v.writeUInt32LE(o?.stwReason ? 1 : 0, 16);
    // g.schedlink follows g.goid in every version in the table.
    v.writeUInt32LE(o ? o.gGoid + 8 : 0, 20);
    this.obj.update('procs', u32(pid), v);
  }

  /**
   * Stops recording processes and deletes everything recorded for them: one keys-only pass
   * over each map for all of them (processes exit in bursts; `parked` alone holds up to 256k
   * entries), not a full read per process.
   */
  removeProcesses(pids: readonly number[]): void {
    if (pids.length === 0) return;
    const gone = new Set(pids);
    for (const pid of pids) this.waitReasons.delete(pid);
    for (const pid of pids) this.obj.delete('procs', u32(pid));
    for (const map of ['blocked', 'stw', 'counters', 'alloc_sizes', 'stw_open', 'parked']) {
      const k = this.obj.readKeys(map);
      for (let i = 0; i < k.count; i++) {
        if (gone.has(k.keys.readUInt32LE(i * k.keySize))) this.obj.delete(map, Buffer.from(k.keys.subarray(i * k.keySize, (i + 1) * k.keySize)));
      }
    }
  }

  read(procs: Map<number, GoProcess>, opts: { allocMode: 'cheap' | 'exact'; metrics: Set<string> }, now: number): Sample[] {
    const out: Sample[] = [];
    const counter = (name: string, labels: Labels, value: number, help: string) => out.push({ kind: 'counter', name, labels, timestamp: now, value, help });

    if (opts.metrics.has('blocked')) {
      const m = this.obj.readMap('blocked');
      for (let i = 0; i < m.count; i++) {
        const p = procs.get(m.keys.readUInt32LE(i * 8));
        if (!p) continue;
        const labels = { ...p.labels, reason: waitReasonName(p.minor, m.keys.readUInt32LE(i * 8 + 4)) };
        counter('go_sched_goroutines_blocked_seconds_total', labels, sumPerCpu(m.values, i, m.valueStride, m.cpus, 0) / 1e9, 'Time goroutines spent parked (gopark to wakeup), by wait reason; counted at wakeup');
        counter('go_sched_goroutines_blocked_total', labels, sumPerCpu(m.values, i, m.valueStride, m.cpus, 8), 'Completed goroutine parks (wakeups), by wait reason');
      }
    }

    if (opts.metrics.has('blocked')) this.readWaiting(procs, now, out);

    if (opts.metrics.has('gc_pauses')) {
      const m = this.obj.readMap('stw');
      const seen = new Set<string>();
      for (let i = 0; i < m.count; i++) {
        const p = procs.get(m.keys.readUInt32LE(i * 8));
        if (!p) continue;
        const v = m.values.subarray(i * m.valueStride);
        const slots = Array.from({ length: 64 }, (_, s) => readU64(v, 16 + s * 8));
        const counts = new Array<number>(STW_BOUNDS.length + 1).fill(0);
        slots.forEach((c, s) => (counts[Math.min(Math.max(s - STW_FIRST_SLOT, 0), STW_BOUNDS.length)]! += c));
        const phase = STW_PHASES[m.keys.readUInt32LE(i * 8 + 4)] ?? 'other';
        out.push(pauseHistogram(p, phase, now, counts, readU64(v, 8) / 1e9, readU64(v, 0)));
        seen.add(`${p.pid}:${phase}`);
      }
      // From attach on, with zero counts: rate() and dashboards need the series before the first pause.
      for (const p of procs.values()) {
        for (const phase of p.offsets?.stwReason ? ['mark_termination', 'sweep_termination', 'other'] : ['unknown']) {
          if (!seen.has(`${p.pid}:${phase}`)) out.push(pauseHistogram(p, phase, now, new Array<number>(STW_BOUNDS.length + 1).fill(0), 0, 0));
        }
      }
    }

    const counters = new Map<string, number>();
    const c = this.obj.readMap('counters');
    for (let i = 0; i < c.count; i++) counters.set(`${c.keys.readUInt32LE(i * 8)}:${c.keys.readUInt32LE(i * 8 + 4)}`, sumPerCpu(c.values, i, c.valueStride, c.cpus, 0));
    const exactBytes = opts.allocMode === 'exact' && opts.metrics.has('alloc') ? this.exactAllocBytes(procs) : undefined;
    for (const p of procs.values()) {
      const get = (what: number) => counters.get(`${p.pid}:${what}`) ?? 0;
      if (opts.metrics.has('gc_cycles')) counter('go_gc_cycles_total', p.labels, get(C_GC_CYCLES), 'Completed GC cycles (gcMarkTermination)');
      if (opts.metrics.has('alloc')) {
        const bytes = opts.allocMode === 'exact' ? (exactBytes!.get(p.pid) ?? 0) + get(C_ALLOC_LARGE) : get(C_ALLOC_SPANS);
        counter('go_mem_alloc_bytes_total', p.labels, bytes, 'Heap bytes allocated (size-class rounded), as /gc/heap/allocs:bytes counts them');
      }
      if (opts.metrics.has('goroutine_churn')) {
        counter('go_goroutines_created_total', p.labels, get(C_CREATED), 'Goroutines created (newproc1)');
        counter('go_goroutines_exited_total', p.labels, get(C_EXITED), 'Goroutines exited (goexit1)');
      }
    }
    return out;
  }

  /**
   * Goroutines parked right now, by wait reason, and how long the oldest has waited: read from
   * the in-kernel park map (an entry per parked goroutine since attach, deleted at wakeup), so
   * a goroutine parked forever — a leak — shows here, though blocked time counts it only at
   * wakeup. A reason seen once stays, at 0, when nothing waits on it any more.
   */
  private readWaiting(procs: Map<number, GoProcess>, now: number, out: Sample[]): void {
    const m = this.obj.readMap('parked');
    const monoNow = Number(process.hrtime.bigint()) / 1e9;
    const byReason = new Map<string, { p: GoProcess; reason: number; count: number; oldest: number }>();
    for (let i = 0; i < m.count; i++) {
      const p = procs.get(m.keys.readUInt32LE(i * 16));
      if (!p) continue;
      const at = i * m.valueStride;
      const reason = m.values.readUInt32LE(at + 8);
      const key = `${p.pid}:${reason}`;
      const parkedAt = readU64(m.values, at) / 1e9;
      const e = byReason.get(key);
      if (e) {
        e.count++;
        e.oldest = Math.min(e.oldest, parkedAt);
      } else byReason.set(key, { p, reason, count: 1, oldest: parkedAt });
    }
    for (const p of procs.values()) {
      const seen = (this.waitReasons.get(p.pid) ?? new Set<number>());
      this.waitReasons.set(p.pid, seen);
      for (const e of byReason.values()) if (e.p === p) seen.add(e.reason);
      for (const reason of seen) {
        const e = byReason.get(`${p.pid}:${reason}`);
        const labels = { ...p.labels, reason: waitReasonName(p.minor, reason) };
        out.push({ kind: 'gauge', name: 'go_sched_goroutines_waiting', labels, timestamp: now, value: e?.count ?? 0, help: 'Goroutines parked right now, by wait reason (parked since the probe attached)' });
        out.push({ kind: 'gauge', name: 'go_sched_goroutines_waiting_oldest_seconds', labels, timestamp: now, value: e ? Math.max(0, monoNow - e.oldest) : 0, help: 'How long the longest-parked goroutine of each wait reason has waited' });
      }
    }
  }

  /** mallocgc sizes → heap bytes, rounded as the allocator rounds them. */
  private exactAllocBytes(procs: Map<number, GoProcess>): Map<number, number> {
    const m = this.obj.readMap('alloc_sizes');
    const out = new Map<number, number>();
    for (let i = 0; i < m.count; i++) {
      const pid = m.keys.readUInt32LE(i * 12);
      const p = procs.get(pid);
      if (!p) continue;
      const n = sumPerCpu(m.values, i, m.valueStride, m.cpus, 0);
      out.set(pid, (out.get(pid) ?? 0) + n * allocatedSize(m.keys.readUInt32LE(i * 12 + 4), m.keys.readUInt32LE(i * 12 + 8) === 1, p.minor));
    }
    return out;
  }

  close(): void {
    this.obj.close();
  }
}

/**
 * Bytes the allocator takes for a request: tiny (noscan < 16 B) allocations share 16-byte
 * blocks, so each counts its own size (a slight under-count); from Go 1.22, objects with
 * pointers above 512 B carry an 8-byte malloc header; the rest round up to their size class
 * or, past 32 KiB, to whole 8 KiB pages.
 */
export function allocatedSize(size: number, noscan: boolean, minor: number): number {
  if (noscan && size < 16) return size;
  const withHeader = minor >= 22 && !noscan && size > 512 ? size + 8 : size;
  if (withHeader > 32768) return Math.ceil(withHeader / 8192) * 8192;
  for (const c of CLASS_TO_SIZE) if (c >= withHeader) return c;
  return withHeader;
}

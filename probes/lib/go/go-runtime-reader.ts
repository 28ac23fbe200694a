import { BpfObject, bundledObjectPath, sumPerCpu, u32, u64At } from '../../../engine/bpf/bpf-object.js';
import { withLabel, type HistogramSample, type Labels, type Sample } from '../../../engine/model/sample.js';
import { CLASS_TO_SIZE, type GoOffsets } from './offsets.js';
import type { RuntimeTotals } from './runtime-totals.js';
import { waitReasonName, waitReasonNames } from './wait-reasons.js';
import type { NamingProfile } from './naming-profiles.js';
import type { BinarySymbols } from '../binary-symbols.js';
import { clockReadSiteOf } from './machine-code.js';

/** Attachment cookies: which runtime function a probe sits on (see bpf/go_runtime.bpf.c). */
export const POINTS = {
  park: { cookie: 0, symbol: 'runtime.gopark' },
  wake: { cookie: 1, symbol: 'runtime.casgstatus' },
  stwStop: { cookie: 2, symbol: 'runtime.stopTheWorldWithSema' },
  /** Where Go itself has read the clock that ends a pause (its `now`): its value is the end. */
  stwStart: { cookie: 3, symbol: 'runtime.startTheWorldWithSema', clockRead: {} },
  gcMarkTerm: { cookie: 4, symbol: 'runtime.gcMarkTermination' },
  newproc: { cookie: 5, symbol: 'runtime.newproc1' },
  goexit: { cookie: 6, symbol: 'runtime.goexit1' },
  malloc: { cookie: 7, symbol: 'runtime.mallocgc' },
  refill: { cookie: 8, symbol: 'runtime.(*mcache).refill' },
  releaseAll: { cookie: 9, symbol: 'runtime.(*mcache).releaseAll' },
  allocLarge: { cookie: 10, symbol: 'runtime.(*mcache).allocLarge' },
  ready: { cookie: 11, symbol: 'runtime.ready' },
  injectglist: { cookie: 12, symbol: 'runtime.injectglist' },
  /**
   * Mark termination's pause ends at gcMarkTermination's `now := nanotime()`, read on the call of
   * time.now just after it. A call is emulated by the kernel, the instruction after nanotime1's
   * return single-stepped (~10 µs a hit here against ~0.6, with the world still stopped), and
   * nanotime1's result slot is not written between the two (every toolchain, amd64 and arm64).
   */
  stwMarkTermEnd: { cookie: 13, symbol: 'runtime.gcMarkTermination', clockRead: { onCallOf: 'time.now' } },
  /** Before 1.21 only: the world stopped by stopTheWorld (not GC), after it took worldsema. */
  stwByCaller: { cookie: 14, symbol: 'runtime.stopTheWorld.func1' },
  /**
   * From 1.22 Go starts a pause's clock after taking sched.lock (its wait excluded): its first
   * nanotime1, read on the call of preemptall that follows (emulated, inside Go's own pause).
   */
  stwClock: { cookie: 15, symbol: 'runtime.stopTheWorldWithSema', clockRead: { onCallOf: 'runtime.preemptall' } },
  /**
   * Before 1.22 Go starts a GC pause's clock in the callers: `now := nanotime()` in gcStart
   * (sweep termination) and gcMarkDone (mark termination), just before they stop the world.
   */
  stwGcStartClock: { cookie: 16, symbol: 'runtime.gcStart', clockRead: {} },
  stwMarkDoneClock: { cookie: 16, symbol: 'runtime.gcMarkDone', clockRead: {} },
  /** Scheduling latency (opt-in): a goroutine becomes runnable (created, woken) … */
  runqput: { cookie: 17, symbol: 'runtime.runqput' },
  /** … or yields / is preempted onto the global run queue … */
  gosched: { cookie: 18, symbol: 'runtime.goschedImpl' },
  /** … and runs. */
  execute: { cookie: 19, symbol: 'runtime.execute' },
} as const satisfies Record<string, GoPoint>;
export type PointName = keyof typeof POINTS;

/** Where a point sits in `symbol`: its entry, or by one of its nanotime1 calls (`clockRead`). */
export interface GoPoint {
  cookie: number;
  symbol: string;
  /**
   * Where the first `call nanotime1` returns (with `onCallOf`: on the first call of that function
   * instead, which must follow a nanotime1 call whose result slot is still intact there): the
   * program takes Go's own clock reading from that slot as the boundary.
   */
  clockRead?: { onCallOf?: string };
}

/** Cookie flag (bpf/go_runtime.bpf.c COOKIE_CLOCK_READ): the point follows a nanotime1 call. */
const COOKIE_CLOCK_READ = 1 << 9;

/**
 * Where a `clockRead` point attaches in the binary at `path`, its cookie flagged so the program
 * reads Go's clock there (and only there); undefined when the call it sits by is not found.
 */
export function clockReadAttachment(symbols: BinarySymbols, path: string, point: GoPoint): { fileOffset: number; cookie: number } | undefined {
  if (!point.clockRead) return undefined;
  const site = clockReadSiteOf(symbols, path, point.symbol, point.clockRead.onCallOf);
  return site === undefined ? undefined : { fileOffset: site, cookie: point.cookie | COOKIE_CLOCK_READ };
}

const C_GC_CYCLES = 0;
const C_CREATED = 1;
const C_EXITED = 2;
const C_ALLOC_LARGE = 4;
/** Counter indexes per process in the `counters` map's keys (bpf/go_runtime.bpf.c), rounded up. */
const COUNTER_SLOTS = 64;

/** STW pause buckets: 2^10 ns (~1 µs) … 2^36 ns (~69 s); the in-kernel log2 slots fold into them. */
const STW_FIRST_SLOT = 10;
const STW_LAST_SLOT = 36;
export const STW_BOUNDS: readonly number[] = Array.from({ length: STW_LAST_SLOT - STW_FIRST_SLOT + 1 }, (_, i) => 2 ** (STW_FIRST_SLOT + i) / 1e9);
/** Per-bucket counts of an empty histogram over STW_BOUNDS (+Inf last). */
const emptyCounts = () => new Array<number>(STW_BOUNDS.length + 1).fill(0);
/**
 * The counts of a histogram nothing fell in yet, shared by all of them: samples are never
 * changed once out, and 300 pause histograms a read mostly have no pause since the last.
 */
const NO_COUNTS: readonly number[] = Object.freeze(emptyCounts());
/**
 * A histogram value as the BPF program keeps it (count, sum_ns, 64 log2 slots), at byte `at`
 * of a map read's words, in STW_BOUNDS' buckets.
 */
function foldedCounts(words: Uint32Array, at: number): number[] {
  const counts = emptyCounts();
  const last = STW_BOUNDS.length;
  for (let s = 0, w = (at + 16) >>> 2; s < 64; s++, w += 2) {
    // Most slots of a log2 histogram are empty: told from the words, without a call per slot
    // (300 histograms × 64 slots a read, with 100 processes).
    if (words[w] === 0 && words[w + 1] === 0) continue;
    counts[s <= STW_FIRST_SLOT ? 0 : s - STW_FIRST_SLOT >= last ? last : s - STW_FIRST_SLOT]! += u64At(words, w * 4);
  }
  return counts;
}
const STW_PHASES = ['unknown', 'mark_termination', 'sweep_termination', 'other'];
const GC_PAUSE_HELP = 'GC stop-the-world pauses, as Go’s /sched/pauses/total/gc:seconds (stopTheWorldWithSema to where Go reads the clock that ends them), by phase';
const OTHER_PAUSE_HELP = 'Stop-the-world pauses that are not GC (ReadMemStats, goroutine profiles, GOMAXPROCS, traces…), as /sched/pauses/total/other:seconds';

/**
 * A pause histogram of one process: GC pauses by phase in go_gc_pause_seconds, as Go's own
 * /sched/pauses/total/gc:seconds; the world stopped for anything else (phase "other", told by
 * stopTheWorldWithSema's reason from 1.21) in go_sched_pauses_other_seconds, as
 * /sched/pauses/total/other:seconds.
 */
function pauseHistogram(p: GoProcess, phase: string | undefined, timestamp: number, counts: readonly number[], sum: number, count: number): HistogramSample {
  const other = phase === 'other';
  return {
    kind: 'histogram',
    name: other ? 'go_sched_pauses_other_seconds' : 'go_gc_pause_seconds',
    labels: other || phase === undefined ? p.labels : withLabel(p.labels, 'phase', phase),
    timestamp,
    bounds: STW_BOUNDS,
    counts,
    sum,
    count,
    help: other ? OTHER_PAUSE_HELP : GC_PAUSE_HELP,
  };
}

/**
 * How pauses get their phase: from stopTheWorldWithSema's reason (1.21+), from who stopped the
 * world (before 1.21: stopTheWorld is not GC; mark termination ends in gcMarkTermination), or
 * not at all ("unknown", non-GC pauses included) when those points could not be placed.
 */
export type StwPhases = 'reason' | 'caller' | 'unknown';
const STW_MODE: Record<StwPhases, number> = { unknown: 0, reason: 1, caller: 2 };

export interface GoProcess {
  pid: number;
  minor: number;
  labels: Labels;
  stwPhases: StwPhases;
  /** Metrics this process cannot have: no zero-valued series are made up for them. */
  missing: ReadonlyMap<string, string>;
  /** The runtime's totals when recording started: counters report absolute values from them. */
  seed?: RuntimeTotals;
}

/**
 * Wait reasons whose blocked-time series exist from attach on, at 0, so rate() and dashboards
 * see them before the first wakeup: the ones application code waits on. Others appear at their
 * first wakeup (there are ~40 per version; most are the runtime's own).
 */
const blockedFromAttachByMinor = new Map<number, readonly string[]>();
function blockedFromAttach(minor: number): readonly string[] {
  const cached = blockedFromAttachByMinor.get(minor);
  if (cached) return cached;
  const names = ['chan receive', 'chan send', 'select', 'sleep', 'IO wait', 'sync.Cond.Wait', minor >= 20 ? 'sync.Mutex.Lock' : 'semacquire'];
  if (minor >= 20) names.push('sync.RWMutex.Lock', 'sync.RWMutex.RLock');
  if (minor >= 24) names.push('sync.WaitGroup.Wait');
  const known = new Set(waitReasonNames(minor));
  const found = names.filter((n) => known.has(n));
  blockedFromAttachByMinor.set(minor, found);
  return found;
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
  /** Each pause histogram's last consistent fold, by pid × phases + phase (pauseCounts). */
  private readonly lastPauseCounts = new Map<number, { count: number; counts: readonly number[] }>();

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

  /**
   * Starts recording a process. Offsets undefined: only offset-free metrics are recorded.
   * latencyEvery: time 1 in N runnable goroutines (0: no scheduling latency).
   */
  addProcess(pid: number, o: GoOffsets | undefined, stwPhases: StwPhases, latencyEvery = 0): void {
    const v = Buffer.alloc(32);
    v.writeUInt32LE(o?.gGoid ?? 0, 0);
    v.writeUInt32LE(o?.mcacheAlloc ?? 0, 4);
    v.writeUInt32LE(o?.spanAllocCount ?? 0, 8);
    v.writeUInt32LE(o?.spanAllocCountBeforeCache ?? 0, 12);
    v.writeUInt32LE(STW_MODE[stwPhases], 16);
    // g.schedlink follows g.goid in every version in the table.
    v.writeUInt32LE(o ? o.gGoid + 8 : 0, 20);
    v.writeUInt32LE(o ? latencyEvery : 0, 24);
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
    for (const pid of pids) for (let phase = 0; phase < STW_PHASES.length; phase++) this.lastPauseCounts.delete(pid * STW_PHASES.length + phase);
    for (const pid of pids) this.obj.delete('procs', u32(pid));
    for (const map of ['blocked', 'stw', 'counters', 'alloc_sizes', 'stw_open', 'stw_by_caller', 'stw_gc_clock', 'parked', 'runnable_since', 'sched_latency', 'span_allocs']) {
      const k = this.obj.readKeys(map);
      for (let i = 0; i < k.count; i++) {
        if (gone.has(k.keys.readUInt32LE(i * k.keySize))) this.obj.delete(map, Buffer.from(k.keys.subarray(i * k.keySize, (i + 1) * k.keySize)));
      }
    }
  }

  read(procs: Map<number, GoProcess>, opts: { allocMode: 'cheap' | 'exact'; metrics: Set<string>; names: NamingProfile }, now: number): Sample[] {
    const out: Sample[] = [];
    const counter = (name: string, labels: Labels, value: number, help: string) => out.push({ kind: 'counter', name, labels, timestamp: now, value, help });
    /** GC pause seconds per process since attach (all GC phases): client_golang's go_gc_duration_seconds_sum. */
    const gcPauseSums = new Map<number, number>();

    if (opts.metrics.has('blocked')) {
      const m = this.obj.readMap('blocked');
      const keys = m.keyWords;
      const seen = new Map<GoProcess, Set<string>>();
      const blocked = (p: GoProcess, reason: string, ns: number, n: number) => {
        const labels = withLabel(p.labels, 'reason', reason);
        counter('go_sched_goroutines_blocked_seconds_total', labels, ns / 1e9, 'Time goroutines spent parked (gopark to wakeup), by wait reason; counted at wakeup');
        counter('go_sched_goroutines_blocked_total', labels, n, 'Completed goroutine parks (wakeups), by wait reason');
      };
      for (let i = 0; i < m.count; i++) {
        const p = procs.get(keys[i * 2]!);
        if (!p) continue;
        const reason = waitReasonName(p.minor, keys[i * 2 + 1]!);
        blocked(p, reason, sumPerCpu(m, i, 0), sumPerCpu(m, i, 8));
        let reasons = seen.get(p);
        if (!reasons) seen.set(p, (reasons = new Set()));
        reasons.add(reason);
      }
      procs.forEach((p) => {
        if (p.missing.has('blocked')) return;
        const reasons = seen.get(p);
        // Indexed, and forEach over maps: under the image's interpreter an iterator allocates a
        // result object per step, and these loops run per process and reason every read.
        const known = blockedFromAttach(p.minor);
        for (let i = 0; i < known.length; i++) if (!reasons?.has(known[i]!)) blocked(p, known[i]!, 0, 0);
      });
    }

    if (opts.metrics.has('blocked')) this.readWaiting(procs, now, out);

    if (opts.metrics.has('gc_pauses')) {
      const m = this.obj.readMap('stw');
      const keys = m.keyWords;
      const byProcess = new Map<number, Map<string, { counts: readonly number[]; sum: number; count: number }>>();
      const zero = () => ({ counts: NO_COUNTS, sum: 0, count: 0 });
      // From attach on, with zero counts: rate() and dashboards need the series before the first pause.
      for (const p of procs.values()) {
        if (p.missing.has('gc_pauses')) continue;
        byProcess.set(p.pid, new Map((p.stwPhases === 'unknown' ? ['unknown'] : ['mark_termination', 'sweep_termination', 'other']).map((phase) => [phase, zero()])));
      }
      for (let i = 0; i < m.count; i++) {
        const pid = keys[i * 2]!;
        const phases = procs.has(pid) ? byProcess.get(pid) : undefined;
        if (!phases) continue;
        const at = i * m.valueStride;
        const phase = Math.min(keys[i * 2 + 1]!, STW_PHASES.length - 1);
        const count = u64At(m.words, at);
        phases.set(STW_PHASES[phase]!, { counts: this.pauseCounts(pid * STW_PHASES.length + phase, m.words, at, count), sum: u64At(m.words, at + 8) / 1e9, count });
      }
      byProcess.forEach((phases, pid) => {
        const p = procs.get(pid)!;
        const gc = { counts: opts.names === 'client_golang' ? emptyCounts() : [], sum: 0, count: 0 };
        phases.forEach((h, phase) => {
          if (phase === 'other') return void out.push(pauseHistogram(p, phase, now, h.counts, h.sum, h.count));
          // client_golang's /sched/pauses/total/gc:seconds has no phases: one histogram, summed.
          if (opts.names !== 'client_golang') out.push(pauseHistogram(p, phase, now, h.counts, h.sum, h.count));
          else h.counts.forEach((c, b) => (gc.counts[b]! += c));
          gc.sum += h.sum;
          gc.count += h.count;
        });
        if (opts.names === 'client_golang') out.push(pauseHistogram(p, undefined, now, gc.counts, gc.sum, gc.count));
        gcPauseSums.set(pid, gc.sum);
      });
    }

    if (opts.metrics.has('sched_latency')) this.readSchedLatency(procs, now, out);

    // Keyed pid·COUNTER_SLOTS + counter: a number, not a string built per entry and per lookup.
    const counters = new Map<number, number>();
    const c = this.obj.readMap('counters');
    const counterKeys = c.keyWords;
    for (let i = 0; i < c.count; i++) counters.set(counterKeys[i * 2]! * COUNTER_SLOTS + counterKeys[i * 2 + 1]!, sumPerCpu(c, i, 0));
    const exactBytes = opts.allocMode === 'exact' && opts.metrics.has('alloc') ? this.exactAllocBytes(procs) : undefined;
    const spans = new Map<number, { bytes: number; objects: number }>();
    if (opts.allocMode === 'cheap' && opts.metrics.has('alloc')) {
      const a = this.obj.readMap('span_allocs');
      const spanKeys = a.keyWords;
      for (let i = 0; i < a.count; i++) spans.set(spanKeys[i]!, { bytes: sumPerCpu(a, i, 0), objects: sumPerCpu(a, i, 8) });
    }
    for (const p of procs.values()) {
      const get = (what: number) => counters.get(p.pid * COUNTER_SLOTS + what) ?? 0;
      const cycles = (p.seed?.gcCycles ?? 0) + get(C_GC_CYCLES);
      if (opts.metrics.has('gc_cycles')) counter('go_gc_cycles_total', p.labels, cycles, 'Completed GC cycles since the process started, as /gc/cycles/total:gc-cycles (gcMarkTermination)');
      const pauseSum = gcPauseSums.get(p.pid);
      if (opts.names === 'client_golang' && opts.metrics.has('gc_cycles') && pauseSum !== undefined) {
        // client_golang's go_gc_duration_seconds summary counts GC cycles and sums their pauses
        // (debug.ReadGCStats); a histogram without bounds is exposed as that summary, _sum and
        // _count; its quantile series are not made up here (docs/go-runtime.md).
        const help = 'GC pauses as client_golang’s go_gc_duration_seconds summary counts them: _count GC cycles, _sum their stop-the-world seconds since the process started';
        out.push({ kind: 'histogram', name: 'go_gc_duration_seconds', labels: p.labels, timestamp: now, bounds: [], counts: [cycles], sum: (p.seed?.gcPauseSeconds ?? 0) + pauseSum, count: cycles, help });
      }
      if (opts.metrics.has('alloc')) {
        const bytes = opts.allocMode === 'exact' ? (exactBytes!.get(p.pid) ?? 0) + get(C_ALLOC_LARGE) : (spans.get(p.pid)?.bytes ?? 0);
        counter('go_mem_alloc_bytes_total', p.labels, (p.seed?.allocBytes ?? 0) + bytes, 'Heap bytes allocated since the process started (size-class rounded), as /gc/heap/allocs:bytes counts them');
        // Exact mode sees every mallocgc call, tiny ones too, which Go counts per 16-byte block.
        if (opts.allocMode === 'cheap') counter('go_gc_heap_allocs_objects_total', p.labels, (p.seed?.allocObjects ?? 0) + (spans.get(p.pid)?.objects ?? 0), 'Heap objects allocated since the process started (tiny allocations counted per 16-byte block), as /gc/heap/allocs:objects');
      }
      if (opts.metrics.has('goroutine_churn')) {
        counter('go_goroutines_created_total', p.labels, get(C_CREATED), 'Goroutines created (newproc1)');
        counter('go_goroutines_exited_total', p.labels, get(C_EXITED), 'Goroutines exited (goexit1)');
      }
    }
    return out;
  }

  /**
   * A pause histogram's bucket counts (folded from the map value at byte `at`), the same frozen
   * array as last read while its count has not moved: most processes have no pause between two
   * reads, and the sink then skips its buckets too (SeriesStore). A fold whose buckets do not
   * add up to the count (read while the program was adding a pause) is not kept.
   */
  private pauseCounts(key: number, words: Uint32Array, at: number, count: number): readonly number[] {
    const last = this.lastPauseCounts.get(key);
    if (last?.count === count) return last.counts;
    const counts = foldedCounts(words, at);
    let total = 0;
    for (let i = 0; i < counts.length; i++) total += counts[i]!;
    if (total === count) this.lastPauseCounts.set(key, { count, counts: Object.freeze(counts) });
    else this.lastPauseCounts.delete(key);
    return counts;
  }

  /**
   * Goroutines parked right now, by wait reason, and how long the oldest has waited: read from
   * the in-kernel park map (an entry per parked goroutine since attach, deleted at wakeup), so
   * a goroutine parked forever — a leak — shows here, though blocked time counts it only at
   * wakeup. A reason seen once stays, at 0, when nothing waits on it any more.
   */
  private readWaiting(procs: Map<number, GoProcess>, now: number, out: Sample[]): void {
    const m = this.obj.readMap('parked');
    const keys = m.keyWords;
    const monoNow = Number(process.hrtime.bigint()) / 1e9;
    // Per process, by reason code: one entry per parked goroutine, so thousands per read.
    const byProcess = new Map<GoProcess, Map<number, { count: number; oldest: number }>>();
    for (let i = 0; i < m.count; i++) {
      const p = procs.get(keys[i * 4]!);
      if (!p) continue;
      const at = i * m.valueStride;
      const reason = m.words[(at + 8) >>> 2]!;
      const parkedAt = u64At(m.words, at) / 1e9;
      let reasons = byProcess.get(p);
      if (!reasons) byProcess.set(p, (reasons = new Map()));
      const e = reasons.get(reason);
      if (e) {
        e.count++;
        if (parkedAt < e.oldest) e.oldest = parkedAt;
      } else reasons.set(reason, { count: 1, oldest: parkedAt });
    }
    procs.forEach((p) => {
      let seen = this.waitReasons.get(p.pid);
      if (!seen) this.waitReasons.set(p.pid, (seen = new Set<number>()));
      const parked = byProcess.get(p);
      parked?.forEach((_, reason) => seen.add(reason));
      seen.forEach((reason) => {
        const e = parked?.get(reason);
        const labels = withLabel(p.labels, 'reason', waitReasonName(p.minor, reason));
        out.push({ kind: 'gauge', name: 'go_sched_goroutines_waiting', labels, timestamp: now, value: e?.count ?? 0, help: 'Goroutines parked right now, by wait reason (parked since the probe attached)' });
        out.push({ kind: 'gauge', name: 'go_sched_goroutines_waiting_oldest_seconds', labels, timestamp: now, value: e ? Math.max(0, monoNow - e.oldest) : 0, help: 'How long the longest-parked goroutine of each wait reason has waited' });
      });
    });
  }

  /** Runnable → running, as /sched/latencies:seconds; from attach on (zero until the first sample). */
  private readSchedLatency(procs: Map<number, GoProcess>, now: number, out: Sample[]): void {
    const m = this.obj.readMap('sched_latency');
    const keys = m.keyWords;
    const seen = new Set<number>();
    const push = (p: GoProcess, counts: readonly number[], sum: number, count: number) =>
      out.push({ kind: 'histogram', name: 'go_sched_latencies_seconds', labels: p.labels, timestamp: now, bounds: STW_BOUNDS, counts, sum, count, help: 'Time goroutines spent runnable before running (runqput/goschedImpl/injectglist → execute), 1 in sched_latency_every sampled, as /sched/latencies:seconds' });
    for (let i = 0; i < m.count; i++) {
      const p = procs.get(keys[i]!);
      if (!p) continue;
      const at = i * m.valueStride;
      push(p, foldedCounts(m.words, at), u64At(m.words, at + 8) / 1e9, u64At(m.words, at));
      seen.add(p.pid);
    }
    for (const p of procs.values()) if (!seen.has(p.pid) && !p.missing.has('sched_latency')) push(p, NO_COUNTS, 0, 0);
  }

  /** mallocgc sizes → heap bytes, rounded as the allocator rounds them. */
  private exactAllocBytes(procs: Map<number, GoProcess>): Map<number, number> {
    const m = this.obj.readMap('alloc_sizes');
    const out = new Map<number, number>();
    for (let i = 0; i < m.count; i++) {
      const pid = m.keyWords[i * 3]!;
      const p = procs.get(pid);
      if (!p) continue;
      const n = sumPerCpu(m, i, 0);
      out.set(pid, (out.get(pid) ?? 0) + n * allocatedSize(m.keyWords[i * 3 + 1]!, m.keyWords[i * 3 + 2] === 1, p.minor));
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

/**
 * Cost of the go_runtime probe, side by side in one run: the workload alone, an empty BPF
 * program on the same points (the floor), probeflow's program, and bpftrace doing the same
 * aggregation (bench/bpftrace-go-runtime.ts). Two views: per probe point (each attached alone,
 * cost per hit) and per operation (the whole default probe, as users run it).
 */
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { BpfObject, bundledObjectPath } from '../engine/bpf/bpf-object.js';
import { SelfMetrics } from '../engine/runtime/self-metrics.js';
import { createLogger } from '../engine/util/log.js';
import { WritePolicy } from '../engine/security/write-policy.js';
import { DEFAULT_METRICS, goRuntimeProbe } from '../probes/go-runtime.js';
import { BinarySymbols } from '../probes/lib/binary-symbols.js';
import { stackCheckCookie } from '../probes/lib/go-prologue.js';
import { clockReadAttachment, GoRuntimeMaps, POINTS, type PointName } from '../probes/lib/go/go-runtime-reader.js';
import { goOffsets, type GoOffsets } from '../probes/lib/go/offsets.js';
import { HitCounters } from '../probes/lib/hit-counters.js';
import { progIds, runTime, withBpfStats } from './bpf-stats.js';
import { bpftraceGoRuntime } from './bpftrace-go-runtime.js';
import { buildGo, fmtNs, median, ROOT, sleep, startBpftrace, startWaiting, stopProcess, table } from './lib.js';

const RUNS = 3;
/** Probed runs are sized to about this many hits: ~1 s when every hit is single-stepped. */
const HITS_PER_RUN = 100_000;

/** Which workload operation exercises each point, and how many times it runs unprobed. */
const POINT_OPS: [PointName, string, number][] = [
  ['park', 'chan_roundtrip', 200_000],
  ['ready', 'chan_roundtrip', 200_000],
  ['wake', 'chan_roundtrip', 200_000],
  ['injectglist', 'tcp_roundtrip', 20_000],
  ['newproc', 'spawn', 200_000],
  ['goexit', 'spawn', 200_000],
  ['malloc', 'alloc64', 2_000_000],
  ['refill', 'alloc64', 2_000_000],
  ['allocLarge', 'alloc_large', 20_000],
  ['releaseAll', 'gc_cycle', 1000],
  ['stwStop', 'gc_cycle', 1000],
  ['stwStart', 'gc_cycle', 1000],
  ['gcMarkTerm', 'gc_cycle', 1000],
  // Where pauses begin and end as Go's own clock readings do (call sites; 2–3 hits per cycle).
  ['stwMarkTermEnd', 'gc_cycle', 1000],
  ['stwClock', 'gc_cycle', 1000],
  ['stwGcStartClock', 'gc_cycle', 1000],
  ['stwMarkDoneClock', 'gc_cycle', 1000],
  ['stwByCaller', 'read_memstats', 1000],
  // Scheduling latency (opt-in): every goroutine made runnable, and every switch.
  ['runqput', 'chan_roundtrip', 200_000],
  ['gosched', 'gosched', 200_000],
  ['execute', 'chan_roundtrip', 200_000],
];

/** The points the probe places by default for this Go version (as probes/go-runtime.ts picks them). */
function defaultPoints(minor: number): PointName[] {
  const pauses: PointName[] = minor >= 22 ? ['stwStop', 'stwClock', 'stwStart', 'stwMarkTermEnd'] : ['stwStop', 'stwGcStartClock', 'stwMarkDoneClock', 'stwStart', 'stwMarkTermEnd', ...(minor < 21 ? (['stwByCaller'] as const) : [])];
  return ['park', 'ready', 'injectglist', ...pauses, 'gcMarkTerm', 'refill', 'releaseAll', 'allocLarge'];
}

type Attach = (pid: number) => Promise<() => void | Promise<void>>;

interface Target {
  bin: string;
  symbols: BinarySymbols;
  offsets: GoOffsets;
  minor: number;
}

function target(): Target {
  // Probes someone else left on the machine would be paid by every row, "alone" included.
  const others = spawnSync('pgrep', ['-x', 'bpftrace']).stdout.toString().trim();
  if (others) throw new Error(`bench: bpftrace is running (pid ${others.split('\n').join(', ')}); stop it first, its probes would skew the numbers`);
  const bin = realpathSync(buildGo('go-overhead'));
  const symbols = BinarySymbols.open(bin);
  const ver = symbols.goVersion;
  const offsets = ver && goOffsets(ver[0], ver[1]);
  if (!offsets) throw new Error(`bench: ${symbols.go?.version ?? 'this Go'} has no offset table; build the bench with a supported Go`);
  return { bin, symbols, offsets, minor: ver[1] };
}

interface OpTiming {
  /** Median wall-clock ns per operation. */
  ns: number;
  /** Half the spread of the runs: differences below it are noise. */
  noise: number;
  /** Mean ns inside the attached BPF programs per program run, over all runs (kernel bpf_stats). */
  progNs: number;
}

/** Runs `op` n times, RUNS times, with `attach` in place for each run. */
async function timeOp(t: Target, op: string, n: number, attach?: Attach, runs = RUNS): Promise<OpTiming> {
  const xs: number[] = [];
  let progNs = 0;
  let progRuns = 0;
  for (let i = 0; i < runs; i++) {
    const w = await startWaiting(t.bin, [op, String(n)]);
    const before = progIds();
    const detach = attach ? await attach(w.pid) : undefined;
    const ours = new Set([...progIds()].filter((id) => !before.has(id)));
    const out = await w.go();
    const rt = runTime(ours);
    await detach?.();
    progNs += rt.ns;
    progRuns += rt.runs;
    const m = new RegExp(`^${op} ([\\d.]+)$`, 'm').exec(out);
    if (!m) throw new Error(`bench: no result for ${op} in ${JSON.stringify(out)}`);
    xs.push(Number(m[1]));
  }
  return { ns: median(xs), noise: (Math.max(...xs) - Math.min(...xs)) / 2, progNs: progRuns ? progNs / progRuns : NaN };
}

/** Where to attach for `point`; `jbe` is the cookie bit telling the program it sits on the jbe. */
function offsetOf(t: Target, point: PointName, at: 'entry' | 'stack_check') {
  const site = clockReadAttachment(t.symbols, t.bin, POINTS[point]);
  if (site) return { offset: site.fileOffset, jbe: 0, cookie: site.cookie };
  const f = t.symbols.resolve(POINTS[point].symbol, { at });
  const jbe = at === 'stack_check' ? stackCheckCookie(f.stackCheck) : 0;
  return { offset: f.fileOffset + f.attachDelta, jbe, cookie: POINTS[point].cookie | jbe };
}

const emptyAt = (t: Target, points: readonly PointName[], at: 'entry' | 'stack_check'): Attach => async () => {
  const o = new BpfObject(bundledObjectPath('empty')).load();
  for (const p of points) {
    const { offset, cookie } = offsetOf(t, p, at);
    o.attachUprobe('on_nothing', t.bin, offset, -1, cookie);
  }
  return () => o.close();
};

const probeflowAt = (t: Target, points: readonly PointName[]): Attach => async (pid) => {
  const maps = new GoRuntimeMaps();
  maps.addProcess(pid, t.offsets, t.offsets?.stwReason ? 'reason' : 'caller');
  // As the probe attaches them: one uprobe_multi link where the kernel has them.
  const at = points.map((p) => {
    const { offset, cookie } = offsetOf(t, p, 'stack_check');
    return { fileOffset: offset, cookie };
  });
  maps.obj.attachUprobes('on_go', t.bin, at, (i, e) => {
    throw new Error(`${points[i]}: ${e.message}`);
  });
  return () => maps.obj.close();
};

/** The whole go_runtime probe as a pipeline runs it (target by pid, default metrics). */
const probeflowProbe = (config: Record<string, unknown>): Attach => async (pid) => {
  let attached = false;
  const log = createLogger({ level: 'info', format: 'json', write: (line) => void (line.includes('Go runtime probes attached') && (attached = true)) });
  const sub = goRuntimeProbe
    .create({ type: 'go_runtime', target: { pid }, rescan: '50ms', interval: '1s', ...config }, { id: 'bench', log, baseDir: ROOT, metrics: new SelfMetrics(), writePolicy: new WritePolicy([]) })
    .samples()
    .subscribe();
  for (let i = 0; i < 200 && !attached; i++) await sleep(10);
  if (!attached) throw new Error('bench: go_runtime did not attach within 2 s');
  return () => sub.unsubscribe();
};

const bpftraceAt = (t: Target, points: readonly PointName[]): Attach => async () => {
  const p = await startBpftrace(['-e', bpftraceGoRuntime(t.bin, points, t.offsets)]);
  return () => stopProcess(p);
};

/** Hits of `point` per operation, counted at the jbe with morestack re-entries skipped. */
async function hitsPerOp(t: Target, point: PointName, op: string, n: number): Promise<number> {
  const counters = new HitCounters([{ name: 'x' }], false);
  try {
    // probe_hits reads its own point index (0) from the cookie; only the jbe bit is carried over.
    const { offset, jbe } = offsetOf(t, point, 'stack_check');
    counters.obj.attachUprobe('on_hit', t.bin, offset, -1, jbe);
    await timeOp(t, op, n, undefined, 1);
    const hit = counters.read(() => ({}), 0).find((s) => s.name === 'x_total');
    const hits = hit?.kind === 'counter' ? hit.value : 0;
    return hits / n;
  } finally {
    counters.obj.close();
  }
}

/** Added wall-clock cost per hit, or a note that the difference is within the runs' spread. */
function perHit(with_: OpTiming, alone: OpTiming, hits: number): { ns: number; text: string } {
  const added = with_.ns - alone.ns;
  const noise = Math.max(with_.noise, alone.noise);
  const ns = added / hits;
  return Math.abs(added) < noise ? { ns: NaN, text: `${fmtNs(ns)} (noise ±${fmtNs(noise / hits)})` } : { ns, text: fmtNs(ns) };
}

/** One row per probe point: hits per operation and the added cost per hit of each way of probing it. */
export async function goRuntimePointCost(withBpftrace: boolean): Promise<string> {
  const t = target();
  const rows: string[][] = [];
  const alone = new Map<string, OpTiming>();
  await withBpfStats(async () => {
    for (const [point, op, defaultN] of POINT_OPS) {
      const hits = await hitsPerOp(t, point, op, defaultN);
      if (hits === 0) {
        rows.push([point, op, '0', '', '', '', '', '', '', '', 'not hit by this workload']);
        continue;
      }
      const n = Math.max(10, Math.min(defaultN, Math.round(HITS_PER_RUN / hits)));
      const key = `${op}:${n}`;
      if (!alone.has(key)) alone.set(key, await timeOp(t, op, n));
      const first = alone.get(key)!;
      const floor = await timeOp(t, op, n, emptyAt(t, [point], 'stack_check'));
      const ours = await timeOp(t, op, n, probeflowAt(t, [point]));
      const entryFloor = await timeOp(t, op, n, emptyAt(t, [point], 'entry'));
      const bt = withBpftrace ? await timeOp(t, op, n, bpftraceAt(t, [point])) : undefined;
      // The workload alone again, after: how far two unprobed measurements drift apart is noise
      // too (it dominates on a GC cycle, where the runs within one measurement agree).
      const again = await timeOp(t, op, n);
      const base = { ...first, noise: Math.max(first.noise, again.noise, Math.abs(again.ns - first.ns)) };
      const [o, b] = [perHit(ours, base, hits), bt && perHit(bt, base, hits)];
      rows.push([
        `${point} (${POINTS[point].symbol})`,
        op,
        hits >= 10 ? hits.toFixed(0) : hits.toFixed(3),
        fmtNs(base.ns),
        perHit(floor, base, hits).text,
        o.text,
        fmtNs(ours.progNs),
        perHit(entryFloor, base, hits).text,
        b ? b.text : 'bpftrace not installed',
        bt ? fmtNs(bt.progNs) : '',
        b && o.ns > 0 && b.ns > 0 ? `${(b.ns / o.ns).toFixed(1)}×` : '',
      ]);
    }
  });
  return table(
    ['probe point', 'operation', 'hits per op', 'op alone', 'empty on jbe (floor), per hit', 'probeflow, per hit', 'probeflow program, per run', 'empty at entry, per hit', 'bpftrace at entry, per hit', 'bpftrace program, per run', 'bpftrace / probeflow'],
    rows,
  );
}

/** One row per operation: the default go_runtime probe as a whole against the same setups. */
export async function goRuntimeProbeCost(withBpftrace: boolean): Promise<string> {
  const t = target();
  const cheap = defaultPoints(t.minor);
  const ops: [string, number][] = [
    ['alloc64', 200_000],
    ['alloc_large', 20_000],
    ['chan_roundtrip', 20_000],
    ['tcp_roundtrip', 10_000],
    ['spawn', 50_000],
    ['gc_cycle', 1000],
    ['read_memstats', 1000],
    ['gosched', 50_000],
  ];
  const rows: string[][] = [];
  for (const [op, n] of ops) {
    const base = await timeOp(t, op, n);
    const added = async (attach: Attach) => {
      const r = await timeOp(t, op, n, attach);
      const d = r.ns - base.ns;
      return { ns: d, text: Math.abs(d) < Math.max(r.noise, base.noise) ? `${fmtSigned(d)} (noise)` : fmtSigned(d) };
    };
    const floor = await added(emptyAt(t, cheap, 'stack_check'));
    const ours = await added(probeflowProbe({}));
    const exact = await added(probeflowProbe({ alloc_mode: 'exact' }));
    const latency = await added(probeflowProbe({ metrics: [...DEFAULT_METRICS, 'sched_latency'] }));
    const bt = withBpftrace ? await added(bpftraceAt(t, cheap)) : undefined;
    rows.push([op, fmtNs(base.ns), floor.text, ours.text, exact.text, latency.text, bt ? bt.text : 'bpftrace not installed', bt && ours.ns > base.ns * 0.05 ? `${(bt.ns / ours.ns).toFixed(1)}×` : '']);
  }
  return table(['operation', 'alone, per op', 'empty programs on the same jbe points (floor)', 'probeflow go_runtime (default)', 'probeflow, alloc_mode: exact', 'probeflow + sched_latency (opt-in)', 'bpftrace, same aggregation at entry', 'bpftrace / probeflow'], rows);
}

function fmtSigned(ns: number): string {
  return Number.isFinite(ns) ? `${ns < 0 ? '−' : '+'}${fmtNs(Math.abs(ns))}` : 'n/a';
}

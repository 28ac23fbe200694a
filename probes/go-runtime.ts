import { Observable } from 'rxjs';
import type { ProbeFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { GoRuntimeProbeConfig } from '../schemas/types.generated.js';
import { requireFeature } from '../engine/bpf/kernel-features.js';
import { withLabel, type Labels, type Sample, type SampleKind } from '../engine/model/sample.js';
import { BinarySymbols } from './lib/binary-symbols.js';
import { clockReadAttachment, GoRuntimeMaps, POINTS, type GoPoint, type GoProcess, type PointName, type StwPhases } from './lib/go/go-runtime-reader.js';
import { readRuntimeTotals, type RuntimeTotals } from './lib/go/runtime-totals.js';
import { goOffsets, SUPPORTED_GO_MINORS, type GoOffsets } from './lib/go/offsets.js';
import { ProcessMemory } from './lib/go/process-memory.js';
import { allglenProblem, readRuntimeGauges, RuntimeStateReader } from './lib/go/runtime-gauges.js';
import { findGcController, findMemstats, findRuntimeGlobals, type RuntimeGlobals } from './lib/go/runtime-globals.js';
import { readGcController } from './lib/go/gc-controller.js';
import { renamed } from './lib/go/naming-profiles.js';
import { stackCheckCookie } from './lib/go-prologue.js';
import { processGone, ProcessExitedError, type ProcessInfo } from './lib/processes.js';
import { BinaryLinks } from './lib/binary-links.js';
import { runProcessProbe } from './lib/process-probe.js';
import { scanOptions } from './lib/scan-options.js';

export const DEFAULT_METRICS = ['blocked', 'gc_pauses', 'gc_cycles', 'runqueue', 'm_nonidle', 'goroutines', 'alloc', 'threads', 'gomaxprocs', 'gc_controller'];

/** What one Go binary (inode) needs: its symbols, version, offsets, and the links placed in it. */
interface GoBinary {
  version: string;
  minor: number;
  offsets?: GoOffsets;
  globals?: RuntimeGlobals;
  /** runtime.memstats' link-time address: the counters' totals at attach. */
  memstats?: bigint;
  /** runtime.gcController's link-time address: GOGC, GOMEMLIMIT, heap goal and live heap. */
  gcController?: bigint;
  stwPhases: StwPhases;
  links: number[];
  /** Metrics this binary cannot have, and why (a point not attached, no offsets, no globals). */
  missing: Map<string, string>;
  /** Said once its first process is recorded: from that line on, its events count. */
  announce?: Record<string, unknown>;
}

/** The probe points each metric needs; all of them must be attached. */
const NEEDS: Record<string, readonly PointName[]> = {
  blocked: ['park'],
  gc_pauses: ['stwStop', 'stwStart'],
  gc_cycles: ['gcMarkTerm'],
  goroutine_churn: ['newproc', 'goexit'],
  sched_latency: ['runqput', 'execute'],
};
/** Metrics that read the runtime's structs (offsets per Go version). */
const NEEDS_OFFSETS = new Set(['blocked', 'runqueue', 'm_nonidle', 'goroutines', 'threads', 'sched_latency']);
/** Counters seeded with the runtime's own totals at attach (from memstats). */
const SEEDED = ['gc_cycles', 'alloc'];
/** Metrics that read the scheduler's globals from /proc/PID/mem. */
const NEEDS_GLOBALS = new Set(['runqueue', 'm_nonidle', 'goroutines', 'threads', 'gomaxprocs']);

interface Tracked extends GoProcess {
  version: string;
  /** Metric → why it is missing for this process; metrics not in it resolved. */
  missing: Map<string, string>;
  /** Why the counters count from attach, not from the process's start (no seed). */
  unseeded?: string;
  /** go_runtime_probe_info's labels per metric, built once per labels object. */
  resolution?: { of: Labels; samples: { labels: Labels; ok: boolean }[] };
  /** go_info's labels, built once per labels object (they change at most once, when the pod is known). */
  info?: { of: Labels; labels: Labels };
  mem?: ProcessMemory;
  /** The scheduler's and the pacer's state, as far as they checked out against this process's memory. */
  state?: RuntimeStateReader;
}

function resolutionOf(t: Tracked, metrics: ReadonlySet<string>): { labels: Labels; ok: boolean }[] {
  if (t.resolution?.of !== t.labels) {
    const samples = [...metrics].map((m) => {
      const reason = t.missing.get(m);
      if (reason === undefined && t.unseeded && SEEDED.includes(m)) return { ok: true, labels: { ...t.labels, metric: m, status: 'since_attach', reason: t.unseeded } };
      return { ok: reason === undefined, labels: { ...t.labels, metric: m, status: reason === undefined ? 'ok' : 'missing', reason: reason ?? '' } };
    });
    t.resolution = { of: t.labels, samples };
  }
  return t.resolution.samples;
}

function infoLabels(t: Tracked): Labels {
  if (t.info?.of !== t.labels) t.info = { of: t.labels, labels: { ...t.labels, version: t.version } };
  return t.info.labels;
}

export const goRuntimeProbe: ProbeFactory<GoRuntimeProbeConfig> = {
  kind: 'probe',
  type: 'go_runtime',
  description: 'Go runtime internals of unmodified (even stripped) Go processes: blocked time, STW pauses, run queues, Ms, allocation',
  schema: loadComponentSchema('probe', 'go_runtime'),
  emits(config) {
    const m = new Set(config.metrics ?? DEFAULT_METRICS);
    const k = new Set<SampleKind>();
    if (m.has('blocked') || m.has('gc_cycles') || m.has('alloc') || m.has('goroutine_churn')) k.add('counter');
    if (m.has('runqueue') || m.has('m_nonidle') || m.has('goroutines') || m.has('threads') || m.has('gomaxprocs') || m.has('gc_controller')) k.add('gauge');
    if (m.has('gc_pauses') || m.has('sched_latency')) k.add('histogram');
    k.add('gauge'); // go_info
    return k;
  },
  create(config, ctx) {
    const metrics = new Set(config.metrics ?? DEFAULT_METRICS);
    const allocMode = config.alloc_mode ?? 'cheap';
    const names = config.names ?? 'seed';
    const { intervalMs, rescanMs, labels: which, podKeys } = scanOptions(config);
    const points: PointName[] = [];
    const wake = config.wake ?? 'ready';
    if (metrics.has('blocked')) points.push('park', ...(wake === 'casgstatus' ? (['wake'] as const) : (['ready', 'injectglist'] as const)));
    if (metrics.has('gc_pauses')) points.push('stwStop', 'stwClock', 'stwGcStartClock', 'stwMarkDoneClock', 'stwStart', 'stwMarkTermEnd', 'stwByCaller');
    if (metrics.has('gc_cycles')) points.push('gcMarkTerm');
    if (metrics.has('goroutine_churn')) points.push('newproc', 'goexit');
    if (metrics.has('alloc')) points.push(...(allocMode === 'exact' ? (['malloc'] as const) : (['refill', 'releaseAll', 'allocLarge'] as const)));
    // injectglist makes netpoll's goroutines runnable (it is a wakeup point of blocked time too).
    if (metrics.has('sched_latency')) points.push('runqput', 'gosched', 'execute', ...(points.includes('injectglist') ? [] : (['injectglist'] as const)));
    const latencyEvery = metrics.has('sched_latency') ? (config.sched_latency_every ?? 8) : 0;

    return {
      samples: () =>
        new Observable<Sample[]>((subscriber) =>
          runProcessProbe(subscriber, ctx, { intervalMs, rescanMs, labels: which, ...(podKeys ? { podKeys } : {}), target: config.target ?? {} }, ({ labelsOf }) => {
            requireFeature('uprobe');
            const maps = new GoRuntimeMaps(config.max_processes);
            const binaries = new BinaryLinks<GoBinary>((b) => maps.obj.detach(b.links), ctx.log, 'Go runtime probes');
            const tracked = new Map<number, Tracked>();

            const attach = (p: ProcessInfo): GoBinary | undefined => {
              const path = `/proc/${p.pid}/exe`;
              let symbols: BinarySymbols | undefined;
              try {
                symbols = BinarySymbols.openGo(path);
              } catch (e) {
                if (processGone(p.pid)) throw new ProcessExitedError(p.pid);
                ctx.log.debug('not probing: unreadable binary', { exe: p.exe, error: e });
                return undefined;
              }
              const ver = symbols?.goVersion;
              if (!symbols?.go || !ver) {
                if (config.target) ctx.log.warn('target is not a Go binary (no .go.buildinfo); skipped', { exe: p.exe, pid: p.pid });
                return undefined;
              }
              const offsets = goOffsets(ver[0], ver[1]);
              if (!offsets) {
                ctx.log.warn(`${symbols.go.version} has no offset table here: blocked time, run queues, Ms, goroutines and cheap alloc are off for it; GC cycles, pauses and exact alloc still work`, {
                  exe: p.exe,
                  supported: SUPPORTED_GO_MINORS.map((m) => `go1.${m}`).join(', '),
                });
              }
              const unattached = new Map<PointName, string>();
              const missing = (name: PointName, e: unknown) => {
                unattached.set(name, `probe point ${POINTS[name].symbol} not attached: ${(e as Error).message}`);
                ctx.log.warn('Go runtime probe point not attached; its metric will be missing', { exe: p.exe, symbol: POINTS[name].symbol, error: e });
              };
              const at: { fileOffset: number; cookie: number; symbol: string; name: PointName }[] = [];
              const notes: string[] = [];
              for (const name of points) {
                // From 1.21 stopTheWorldWithSema's reason tells non-GC stops apart.
                if (name === 'stwByCaller' && offsets?.stwReason) continue;
                // Before 1.22 Go's pause clock starts before stopTheWorldWithSema is called.
                if (name === 'stwClock' && ver[1] < 22) continue;
                if ((name === 'stwGcStartClock' || name === 'stwMarkDoneClock') && ver[1] >= 22) continue;
                const point: GoPoint = POINTS[name];
                try {
                  if (point.clockRead) {
                    const site = clockReadAttachment(symbols, path, point);
                    if (site) {
                      at.push({ ...site, symbol: point.symbol, name });
                      continue;
                    }
                    // Without the call site a pause ends at startTheWorldWithSema's entry, as before
                    // 1.22 boundaries were matched: a little short (Go reads its clock later).
                    const callee = point.clockRead.onCallOf ?? 'runtime.nanotime1';
                    if (name !== 'stwStart') throw new Error(`no call of ${callee} found in ${point.symbol}`);
                    notes.push(`no call of ${callee} in ${point.symbol}: pauses end at its entry, slightly shorter than Go's own`);
                  }
                  const f = symbols.resolve(point.symbol, { at: 'stack_check' });
                  at.push({ fileOffset: f.fileOffset + f.attachDelta, cookie: point.cookie | stackCheckCookie(f.stackCheck), symbol: point.symbol, name });
                } catch (e) {
                  missing(name, e);
                }
              }
              let failed = 0;
              const links = maps.obj.attachUprobes('on_go', path, at, (i, e) => {
                failed++;
                missing(at[i]!.name, e);
              });
              let globals: RuntimeGlobals | undefined;
              try {
                globals = findRuntimeGlobals(path, symbols);
              } catch {
                globals = undefined;
              }
              if (!globals && (metrics.has('runqueue') || metrics.has('m_nonidle'))) ctx.log.warn('runtime.sched/allp not found: no run-queue or M gauges for this binary', { exe: p.exe });
              let memstats: ReturnType<typeof findMemstats>;
              try {
                memstats = findMemstats(path, symbols);
              } catch {
                memstats = undefined;
              }
              let gcController: ReturnType<typeof findGcController>;
              try {
                gcController = metrics.has('gc_controller') ? findGcController(path, symbols) : undefined;
              } catch {
                gcController = undefined;
              }
              const placed = (n: PointName) => links.length > 0 && at.some((a) => a.name === n) && !unattached.has(n);
              const stwPhases: StwPhases = offsets?.stwReason ? 'reason' : placed('stwByCaller') && placed('stwMarkTermEnd') ? 'caller' : 'unknown';
              const announce = { exe: p.exe, go: symbols.go.version, points: links.length ? at.length - failed : 0, links: links.length, globals: globals?.source ?? 'none', memstats: memstats?.source ?? 'none', ...(metrics.has('gc_controller') ? { gc_controller: gcController?.source ?? 'none' } : {}), pause_phases: stwPhases, ...(notes.length ? { notes } : {}) };
              const lacking = new Map<string, string>();
              const alloc = allocMode === 'exact' ? (['malloc'] as const) : (['refill', 'releaseAll', 'allocLarge'] as const);
              for (const m of metrics) {
                const point = [...(NEEDS[m] ?? []), ...(m === 'alloc' ? alloc : [])].find((n) => unattached.has(n) || (links.length === 0 && points.includes(n)));
                if (point) lacking.set(m, unattached.get(point) ?? `probe point ${POINTS[point].symbol} not attached`);
                else if (!offsets && (NEEDS_OFFSETS.has(m) || (m === 'alloc' && allocMode === 'cheap'))) lacking.set(m, `no offset table for ${symbols.go.version} (supported: ${SUPPORTED_GO_MINORS.map((n) => `go1.${n}`).join(', ')})`);
                else if (!globals && NEEDS_GLOBALS.has(m)) lacking.set(m, 'runtime.sched/allp not found (no symbol table, and stopTheWorldWithSema did not match the known code)');
                else if (m === 'goroutines' && (offsets?.schedGfreeN === undefined || offsets.pGfreeN === undefined)) lacking.set(m, `offsets of sched.gFree.n and p.gFree.n not known for ${symbols.go.version}`);
                else if (m === 'goroutines' && globals?.allglen === undefined) lacking.set(m, 'runtime.allglen not found (no symbol table, and runtime.allgadd did not match the known code)');
                else if (m === 'gc_controller' && !offsets?.gcController) lacking.set(m, `the layout of runtime.gcControllerState is not known for ${symbols.go.version} (known: go1.19, go1.21–go1.24)`);
                else if (m === 'gc_controller' && !gcController) lacking.set(m, 'runtime.gcController not found (no symbol table, and runtime.gcStart did not match the known code)');
              }
              return { version: symbols.go.version, minor: ver[1], ...(offsets ? { offsets } : {}), ...(globals ? { globals } : {}), ...(memstats ? { memstats: memstats.address } : {}), ...(gcController && offsets?.gcController ? { gcController: gcController.address } : {}), stwPhases, links, missing: lacking, announce };
            };

            /** The runtime's own totals now, read from memstats through a short-lived fd. */
            const seedOf = (pid: number, b: GoBinary, seeding: boolean): { seed?: RuntimeTotals; unseeded?: string } => {
              if (!seeding || b.memstats === undefined) return { unseeded: 'runtime.memstats not found (no symbol table, and (*mcache).refill did not match the known code)' };
              let m: ProcessMemory | undefined;
              try {
                m = ProcessMemory.ofExecutable(pid);
                return { seed: readRuntimeTotals(m, b.memstats) };
              } catch (e) {
                return { unseeded: `runtime.memstats at 0x${b.memstats.toString(16)} does not check out in this process: ${(e as Error).message}` };
              } finally {
                m?.close();
              }
            };

            return {
              hint: (e) => `raise max_processes (now ${e.maxEntries}) on this probe`,
              add(p) {
                const b = binaries.acquire(p, p.binaryId, () => attach(p));
                if (!b) return false;
                let mem: ProcessMemory | undefined;
                let globals = b.globals;
                const missing = new Map(b.missing);
                const seeding = b.memstats !== undefined && SEEDED.some((m) => metrics.has(m));
                const pacer = b.gcController !== undefined && b.offsets?.gcController ? { address: b.gcController, offsets: b.offsets.gcController } : undefined;
                let gcController: typeof pacer;
                if ((globals && b.offsets) || seeding || pacer) {
                  try {
                    mem = ProcessMemory.ofExecutable(p.pid);
                  } catch (e) {
                    if (processGone(p.pid)) {
                      binaries.release(p);
                      throw new ProcessExitedError(p.pid);
                    }
                    ctx.log.warn(`cannot read the Go scheduler state of this process through /proc/${p.pid}/mem; no run-queue/M gauges, counters from attach`, { pid: p.pid, error: e });
                    if (globals && b.offsets) for (const m of NEEDS_GLOBALS) if (metrics.has(m)) missing.set(m, `/proc/${p.pid}/mem cannot be read: ${(e as Error).message}`);
                    if (pacer) missing.set('gc_controller', `/proc/${p.pid}/mem cannot be read: ${(e as Error).message}`);
                    globals = undefined;
                  }
                }
                if (mem && pacer) {
                  try {
                    readGcController(mem, pacer.address, pacer.offsets); // validates the address once
                    gcController = pacer;
                  } catch (e) {
                    missing.set('gc_controller', `runtime.gcController at 0x${pacer.address.toString(16)} does not check out in this process: ${(e as Error).message}`);
                  }
                }
                if (mem && globals && b.offsets) {
                  try {
                    readRuntimeGauges(mem, globals, b.offsets); // validates addresses and offsets once
                    const allglen = allglenProblem(mem, globals);
                    if (allglen && metrics.has('goroutines')) {
                      missing.set('goroutines', allglen);
                      globals = { ...globals, allglen: undefined };
                    }
                  } catch (e) {
                    ctx.log.warn('cannot read the Go scheduler state of this process; no run-queue/M gauges', { pid: p.pid, error: e });
                    for (const m of NEEDS_GLOBALS) if (metrics.has(m)) missing.set(m, `the scheduler state in /proc/${p.pid}/mem does not check out: ${(e as Error).message}`);
                    globals = undefined;
                  }
                }
                if (mem && !globals && !gcController) {
                  mem.close();
                  mem = undefined;
                }
                try {
                  // What fails (a full map, a process gone) fails first: nothing is half-tracked then.
                  maps.addProcess(p.pid, b.offsets, b.stwPhases, latencyEvery);
                } catch (e) {
                  mem?.close();
                  maps.removeProcesses([p.pid]);
                  binaries.release(p);
                  throw e;
                }
                // Read once recording has started: what happens in between is counted twice, not
                // lost (microseconds; a GC cycle or a few span refills at most).
                const { seed, unseeded } = seedOf(p.pid, b, seeding);
                tracked.set(p.pid, { pid: p.pid, minor: b.minor, labels: {}, version: b.version, missing, stwPhases: b.stwPhases, ...(seed ? { seed } : {}), ...(unseeded && SEEDED.some((m) => metrics.has(m)) ? { unseeded } : {}), ...(mem ? { mem, state: new RuntimeStateReader(mem, globals && b.offsets ? { globals, offsets: b.offsets } : undefined, gcController) } : {}) });
                if (b.announce) {
                  ctx.log.info('Go runtime probes attached', b.announce);
                  delete b.announce;
                }
                // Per process, not per binary: a check against live memory can fail for one of them.
                const resolved = [...metrics].filter((m) => !missing.has(m));
                if (unseeded && SEEDED.some((m) => metrics.has(m))) ctx.log.warn('Go runtime counters count from attach, not from the process start', { pid: p.pid, exe: p.exe, reason: unseeded });
                if (missing.size) ctx.log.warn(`Go runtime metrics missing for this process: ${[...missing.keys()].join(', ')}`, { pid: p.pid, exe: p.exe, resolved, missing: Object.fromEntries(missing) });
                else ctx.log.info('Go runtime metrics resolved', { pid: p.pid, exe: p.exe, resolved });
                return true;
              },
              remove(ps) {
                for (const p of ps) {
                  tracked.get(p.pid)?.mem?.close();
                  tracked.delete(p.pid);
                  binaries.release(p);
                }
                maps.removeProcesses(ps.map((p) => p.pid));
              },
              read(now, _seen, only) {
                const procs = only ? new Map([...only].flatMap((pid) => (tracked.has(pid) ? [[pid, tracked.get(pid)!] as const] : []))) : tracked;
                for (const t of procs.values()) t.labels = labelsOf(t.pid) ?? {};
                const batch = maps.read(procs, { allocMode, metrics, names }, now);
                for (const t of procs.values()) {
                  batch.push({ kind: 'gauge', name: 'go_info', labels: infoLabels(t), timestamp: now, value: 1, help: 'Go version of a probed process' });
                  const resolution = resolutionOf(t, metrics);
                  for (let i = 0; i < resolution.length; i++) batch.push({ kind: 'gauge', name: 'go_runtime_probe_info', labels: resolution[i]!.labels, timestamp: now, value: resolution[i]!.ok ? 1 : 0, help: 'Per process and metric: 1 if the probe measures it, 0 if not (reason says why)' });
                  if (!t.state) continue;
                  let state: ReturnType<RuntimeStateReader['read']>;
                  try {
                    state = t.state.read();
                  } catch {
                    // The process is exiting; its exit event removes it.
                    continue;
                  }
                  const c = state.pacer;
                  if (c) {
                    batch.push({ kind: 'gauge', name: 'go_gc_gogc_percent', labels: t.labels, timestamp: now, value: c.gogcPercent, help: 'GOGC: heap growth (percent of the live heap) that starts the next GC; -1 when off, as /gc/gogc:percent' });
                    batch.push({ kind: 'gauge', name: 'go_gc_gomemlimit_bytes', labels: t.labels, timestamp: now, value: c.memoryLimitBytes, help: 'GOMEMLIMIT: the soft memory limit in bytes (math.MaxInt64 when unset), as /gc/gomemlimit:bytes' });
                    batch.push({ kind: 'gauge', name: 'go_gc_heap_goal_bytes', labels: t.labels, timestamp: now, value: c.heapGoalBytes, help: 'Heap size the current GC cycle aims to end at (the GOGC goal; lower when GOMEMLIMIT binds), as /gc/heap/goal:bytes' });
                    batch.push({ kind: 'gauge', name: 'go_gc_heap_live_bytes', labels: t.labels, timestamp: now, value: c.heapLiveBytes, help: 'Heap bytes the last GC marked live, as /gc/heap/live:bytes' });
                  }
                  const g = state.gauges;
                  if (!g) continue;
                  if (metrics.has('runqueue')) g.runq.forEach((n, i) => batch.push({ kind: 'gauge', name: 'go_sched_p_local_queue_length', labels: withLabel(t.labels, 'p', String(i)), timestamp: now, value: n, help: 'Goroutines in each P’s local run queue (runnext included)' }));
                  if (metrics.has('m_nonidle')) batch.push({ kind: 'gauge', name: 'go_sched_m_nonidle_count', labels: t.labels, timestamp: now, value: g.nonIdleMs, help: 'OS threads (Ms) not idle: mcount − nmidle − nmidlelocked − nmsys' });
                  if (metrics.has('threads')) batch.push({ kind: 'gauge', name: 'go_threads', labels: t.labels, timestamp: now, value: g.threads, help: 'OS threads of the Go runtime (Ms), as runtime.mcount() counts them' });
                  if (metrics.has('gomaxprocs')) batch.push({ kind: 'gauge', name: 'go_sched_gomaxprocs_threads', labels: t.labels, timestamp: now, value: g.gomaxprocs, help: 'GOMAXPROCS: Ps the scheduler runs goroutines on (len(runtime.allp)), as /sched/gomaxprocs:threads' });
                  if (metrics.has('goroutines') && g.goroutines !== undefined) batch.push({ kind: 'gauge', name: 'go_goroutines', labels: t.labels, timestamp: now, value: g.goroutines, help: 'Live goroutines, as runtime.gcount() counts them' });
                }
                return renamed(names, batch);
              },
              close() {
                for (const t of tracked.values()) t.mem?.close();
                maps.close();
              },
            };
          }),
        ),
    };
  },
};

import { Observable } from 'rxjs';
import type { ProbeFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { GoRuntimeProbeConfig } from '../schemas/types.generated.js';
import { requireFeature } from '../engine/bpf/kernel-features.js';
import type { Labels, Sample, SampleKind } from '../engine/model/sample.js';
import { BinarySymbols } from './lib/binary-symbols.js';
import { GoRuntimeMaps, POINTS, type GoProcess, type PointName } from './lib/go/go-runtime-reader.js';
import { goOffsets, SUPPORTED_GO_MINORS, type GoOffsets } from './lib/go/offsets.js';
import { ProcessMemory } from './lib/go/process-memory.js';
import { readRuntimeGauges } from './lib/go/runtime-gauges.js';
import { findRuntimeGlobals, type RuntimeGlobals } from './lib/go/runtime-globals.js';
import { ElfFile } from './lib/elf-file.js';
import { stackCheckCookie } from './lib/go-prologue.js';
import { processGone, ProcessExitedError, type ProcessInfo } from './lib/processes.js';
import { BinaryLinks } from './lib/binary-links.js';
import { runProcessProbe } from './lib/process-probe.js';
import { scanOptions } from './lib/scan-options.js';

const DEFAULT_METRICS = ['blocked', 'gc_pauses', 'gc_cycles', 'runqueue', 'm_nonidle', 'goroutines', 'alloc'];

/** What one Go binary (inode) needs: its symbols, version, offsets, and the links placed in it. */
interface GoBinary {
  version: string;
  minor: number;
  offsets?: GoOffsets;
  globals?: RuntimeGlobals;
  links: number[];
  /** Said once its first process is recorded: from that line on, its events count. */
  announce?: Record<string, unknown>;
}

interface Tracked extends GoProcess {
  version: string;
  /** go_info's labels, built once per labels object (they change at most once, when the pod is known). */
  info?: { of: Labels; labels: Labels };
  mem?: ProcessMemory;
  globals?: RuntimeGlobals;
  offsets?: GoOffsets;
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
    if (m.has('runqueue') || m.has('m_nonidle') || m.has('goroutines')) k.add('gauge');
    if (m.has('gc_pauses')) k.add('histogram');
    k.add('gauge'); // go_info
    return k;
  },
  create(config, ctx) {
    const metrics = new Set(config.metrics ?? DEFAULT_METRICS);
    const allocMode = config.alloc_mode ?? 'cheap';
    const { intervalMs, rescanMs, labels: which } = scanOptions(config);
    const points: PointName[] = [];
    const wake = config.wake ?? 'ready';
    if (metrics.has('blocked')) points.push('park', ...(wake === 'casgstatus' ? (['wake'] as const) : (['ready', 'injectglist'] as const)));
    if (metrics.has('gc_pauses')) points.push('stwStop', 'stwStart');
    if (metrics.has('gc_cycles')) points.push('gcMarkTerm');
    if (metrics.has('goroutine_churn')) points.push('newproc', 'goexit');
    if (metrics.has('alloc')) points.push(...(allocMode === 'exact' ? (['malloc'] as const) : (['refill', 'releaseAll', 'allocLarge'] as const)));

    return {
      samples: () =>
        new Observable<Sample[]>((subscriber) =>
          runProcessProbe(subscriber, ctx, { intervalMs, rescanMs, labels: which, target: config.target ?? {} }, ({ labelsOf }) => {
            requireFeature('uprobe');
            const maps = new GoRuntimeMaps(config.max_processes);
            const binaries = new BinaryLinks<GoBinary>((b) => maps.obj.detach(b.links), ctx.log, 'Go runtime probes');
            const tracked = new Map<number, Tracked>();

            const attach = (p: ProcessInfo): GoBinary | undefined => {
              const path = `/proc/${p.pid}/exe`;
              let symbols: BinarySymbols;
              try {
                symbols = BinarySymbols.open(path);
              } catch (e) {
                if (processGone(p.pid)) throw new ProcessExitedError(p.pid);
                ctx.log.debug('not probing: unreadable binary', { exe: p.exe, error: e });
                return undefined;
              }
              const ver = symbols.goVersion;
              if (!symbols.go || !ver) {
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
              const missing = (symbol: string, e: unknown) => ctx.log.warn('Go runtime probe point not attached; its metric will be missing', { exe: p.exe, symbol, error: e });
              const at: { fileOffset: number; cookie: number; symbol: string }[] = [];
              for (const name of points) {
                const { cookie, symbol } = POINTS[name];
                try {
                  const f = symbols.resolve(symbol, { at: 'stack_check' });
                  at.push({ fileOffset: f.fileOffset + f.attachDelta, cookie: cookie | stackCheckCookie(f.stackCheck), symbol });
                } catch (e) {
                  missing(symbol, e);
                }
              }
              let failed = 0;
              const links = maps.obj.attachUprobes('on_go', path, at, (i, e) => {
                failed++;
                missing(at[i]!.symbol, e);
              });
              let globals: RuntimeGlobals | undefined;
              try {
                globals = findRuntimeGlobals(path, symbols);
              } catch {
                globals = undefined;
              }
              if (!globals && (metrics.has('runqueue') || metrics.has('m_nonidle'))) ctx.log.warn('runtime.sched/allp not found: no run-queue or M gauges for this binary', { exe: p.exe });
              const announce = { exe: p.exe, go: symbols.go.version, points: links.length ? at.length - failed : 0, links: links.length, globals: globals?.source ?? 'none' };
              return { version: symbols.go.version, minor: ver[1], ...(offsets ? { offsets } : {}), ...(globals ? { globals } : {}), links, announce };
            };

            return {
              hint: (e) => `raise max_processes (now ${e.maxEntries}) on this probe`,
              add(p) {
                const b = binaries.acquire(p, p.binaryId, () => attach(p));
                if (!b) return false;
                let mem: ProcessMemory | undefined;
                let globals = b.globals;
                if (globals && b.offsets) {
                  try {
                    const elf = ElfFile.open(`/proc/${p.pid}/exe`);
                    const base = elf.baseVaddr;
                    elf.close();
                    mem = new ProcessMemory(p.pid, ProcessMemory.loadBias(p.pid, base));
                    readRuntimeGauges(mem, globals, b.offsets); // validates addresses and offsets once
                  } catch (e) {
                    ctx.log.warn('cannot read the Go scheduler state of this process; no run-queue/M gauges', { pid: p.pid, error: e });
                    mem?.close();
                    mem = undefined;
                    globals = undefined;
                  }
                }
                try {
                  // What fails (a full map, a process gone) fails first: nothing is half-tracked then.
                  maps.addProcess(p.pid, b.offsets);
                } catch (e) {
                  mem?.close();
                  maps.removeProcesses([p.pid]);
                  binaries.release(p);
                  throw e;
                }
                tracked.set(p.pid, { pid: p.pid, minor: b.minor, labels: {}, version: b.version, ...(mem ? { mem } : {}), ...(globals ? { globals } : {}), ...(b.offsets ? { offsets: b.offsets } : {}) });
                if (b.announce) {
                  ctx.log.info('Go runtime probes attached', b.announce);
                  delete b.announce;
                }
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
                const batch = maps.read(procs, { allocMode, metrics }, now);
                for (const t of procs.values()) {
                  batch.push({ kind: 'gauge', name: 'go_info', labels: infoLabels(t), timestamp: now, value: 1, help: 'Go version of a probed process' });
                  if (!t.mem || !t.globals || !t.offsets) continue;
                  try {
                    const g = readRuntimeGauges(t.mem, t.globals, t.offsets);
                    if (metrics.has('runqueue')) g.runq.forEach((n, i) => batch.push({ kind: 'gauge', name: 'go_sched_p_local_queue_length', labels: { ...t.labels, p: String(i) }, timestamp: now, value: n, help: 'Goroutines in each P’s local run queue (runnext included)' }));
                    if (metrics.has('m_nonidle')) batch.push({ kind: 'gauge', name: 'go_sched_m_nonidle_count', labels: t.labels, timestamp: now, value: g.nonIdleMs, help: 'OS threads (Ms) not idle: mcount − nmidle − nmidlelocked − nmsys' });
                    if (metrics.has('goroutines') && g.goroutines !== undefined) batch.push({ kind: 'gauge', name: 'go_goroutines', labels: t.labels, timestamp: now, value: g.goroutines, help: 'Live goroutines, as runtime.gcount() counts them' });
                  } catch {
                    // The process is exiting; its exit event removes it.
                  }
                }
                return batch;
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

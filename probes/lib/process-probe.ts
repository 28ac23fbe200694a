import type { Subscriber, TeardownLogic } from 'rxjs';
import type { ComponentContext } from '../../engine/components/contracts.js';
import type { MapFullError } from '../../engine/bpf/bpf-object.js';
import type { Labels, Sample } from '../../engine/model/sample.js';
import { forEachProcess, guarded } from './guarded.js';
import { PidLabels } from './pid-labels.js';
import { ProcessLabeler, type PodKeys, type ProcessLabel } from './process-labels.js';
import type { ProcessInfo } from './processes.js';
import { watchTargets, type TargetChange, type TargetConfig } from './target.js';

/** What a BPF probe brings to the runtime: its own attach, read and teardown; nothing else. */
export interface ProcessProbeHooks {
  /**
   * A process that matches the target: whether the probe tracks it (false: not for this
   * probe, e.g. not a Go binary). A throw skips it with a warning; the others go on.
   */
  add?(p: ProcessInfo): boolean;
  /** Tracked processes ended (after their final read); all at once, so maps are swept once. */
  remove?(ps: readonly ProcessInfo[]): void;
  /**
   * Everything the probe reads now. `seen` collects pids a kernel-wide probe met. With `only`,
   * just those pids' samples are wanted (the final read of exited processes): a probe may skip
   * the others' work; the runtime drops what it returns of them anyway.
   */
  read(now: number, seen: Set<number>, only?: ReadonlySet<number>): Sample[];
  /** Before the final read of ended processes: drain what is still in flight (event rings). */
  flushInFlight?(): void;
  /** A kernel-wide probe forgets a pid whose process is gone (its counts in the maps). */
  forget?(pid: number): void;
  /** Turns a full map into the option that sizes it, for the warning. */
  hint?(e: MapFullError): string;
  close(): void;
}

/** How soon after a process is found its first read goes out. */
const FIRST_READ_MS = 100;
/** The longest the probe attaches processes before letting the event loop run. */
const ATTACH_SLICE_MS = 5;

export interface ProcessProbeOptions {
  intervalMs: number;
  rescanMs: number;
  labels: readonly ProcessLabel[];
  podKeys?: PodKeys;
  /** Which processes; without, the probe counts every process (kernel-wide). */
  target?: TargetConfig;
}

export interface ProcessProbeRuntime {
  /** Labels of a pid's series: the tracked process's, or (kernel-wide) read from /proc once. */
  labelsOf(pid: number, comm?: string): Labels | undefined;
}

/**
 * The loop every BPF probe shared, once: the agent's process watcher feeds `add`/`remove`, the
 * probe is read every interval, errors in timers and handlers become the probe's own (it goes
 * down; the agent stays), and unsubscribing tears down in order. A process that exits gets a
 * final read whose samples carry `ended`, so sinks end its series at once instead of at their TTL.
 */
export function runProcessProbe(
  subscriber: Subscriber<Sample[]>,
  ctx: ComponentContext,
  opts: ProcessProbeOptions,
  makeHooks: (runtime: ProcessProbeRuntime) => ProcessProbeHooks,
): TeardownLogic {
  const targeted = new ProcessLabeler(opts.labels, ctx.pods, opts.podKeys);
  const wide = new PidLabels(opts.labels, ctx.pods, opts.podKeys);
  const runtime: ProcessProbeRuntime = {
    labelsOf: opts.target ? (pid) => targeted.get(pid) : (pid, comm) => wide.get(pid, comm),
  };
  const hooks = makeHooks(runtime);
  const reads = ctx.metrics.probeReads.labels(ctx.id);
  const readSeconds = ctx.metrics.probeReadSeconds.labels(ctx.id);
  const read: ProcessProbeHooks['read'] = (now, seen, only) => {
    const t = performance.now();
    try {
      return hooks.read(now, seen, only);
    } finally {
      reads.inc();
      readSeconds.inc((performance.now() - t) / 1000);
    }
  };

  const emit = () => {
    const seen = new Set<number>();
    let batch = read(Date.now(), seen);
    // Kernel-wide: a pid is known to be gone only once its last counts are read.
    const gone = opts.target ? [] : wide.forgetExited(seen);
    if (gone.length) batch = endSeriesOf(batch, new Set(gone.map(String)));
    if (batch.length) subscriber.next(batch);
    for (const pid of gone) hooks.forget?.(pid);
  };

  /** What these processes' series hold now, and nothing of the others'. */
  const readOnly = (pids: ReadonlySet<number>): Sample[] => {
    const labels = new Set([...pids].map(String));
    return read(Date.now(), new Set(), pids).filter((s) => s.labels.pid !== undefined && labels.has(s.labels.pid));
  };

  /** The last counts of processes that exited, marked as their series' end. */
  const emitFinal = (ending: readonly ProcessInfo[]) => {
    const batch = endSeriesOf(readOnly(new Set(ending.map((p) => p.pid))), new Set(ending.map((p) => String(p.pid))));
    if (batch.length) subscriber.next(batch);
  };

  // A process found between reads gets its series now, not an interval later (10 s shipped);
  // processes found together share one read, of theirs alone.
  let soon: NodeJS.Timeout | undefined;
  const fresh = new Set<number>();
  const emitSoon = (pid: number) => {
    fresh.add(pid);
    soon ??= setTimeout(
      guarded(subscriber, () => {
        soon = undefined;
        const batch = readOnly(fresh);
        fresh.clear();
        if (batch.length) subscriber.next(batch);
      }),
      FIRST_READ_MS,
    );
  };

  // Attaching a new binary costs ~10–20 ms of symbol and disassembly work on the event loop;
  // 25 at once would hold scrapes for half a second. Processes are attached in slices, with
  // the event loop free in between.
  const queue: ProcessInfo[] = [];
  // Processes the probe may hold something of: tracked, or whose add threw half-way. Others
  // (not for this probe: every non-Go process of a target-less go_runtime) cost nothing at exit.
  const held = new Set<ProcessInfo>();
  let draining = false;
  const drain = guarded(subscriber, () => {
    const until = performance.now() + ATTACH_SLICE_MS;
    while (queue.length && performance.now() < until) {
      forEachProcess(
        [queue.shift()!],
        ctx.log,
        (p) => {
          held.add(p);
          if (hooks.add && !hooks.add(p)) return void held.delete(p);
          targeted.set(p);
          ctx.log.debug('tracking process', { pid: p.pid, exe: p.exe });
          emitSoon(p.pid);
        },
        hooks.hint,
      );
    }
    draining = queue.length > 0;
    if (draining) setImmediate(drain);
  });

  const targets = opts.target
    ? watchTargets(opts.target, opts.rescanMs, { log: ctx.log }).subscribe({
        next: guarded(subscriber, ({ added, removed }: TargetChange) => {
          for (const p of removed) {
            const queued = queue.indexOf(p);
            if (queued >= 0) queue.splice(queued, 1); // gone before its turn came
          }
          const ours = removed.filter((p) => held.has(p));
          if (ours.length) {
            const tracked = ours.filter((p) => targeted.has(p.pid));
            if (tracked.length) {
              hooks.flushInFlight?.();
              emitFinal(tracked);
            }
            for (const p of ours) {
              held.delete(p);
              targeted.delete(p.pid);
              fresh.delete(p.pid);
            }
            hooks.remove?.(ours);
          }
          queue.push(...added);
          if (!draining && queue.length) drain();
        }),
        error: (e) => subscriber.error(e),
      })
    : undefined;
  const timer = setInterval(guarded(subscriber, () => emit()), opts.intervalMs);
  return () => {
    clearInterval(timer);
    clearTimeout(soon);
    queue.length = 0;
    held.clear();
    targets?.unsubscribe();
    hooks.close();
  };
}

/**
 * The same samples, those of the given pids (by their `pid` label) marked as their series'
 * last. A series without a pid label may be shared by processes and ends by TTL instead.
 */
export function endSeriesOf(batch: Sample[], pids: ReadonlySet<string>): Sample[] {
  return batch.map((s) => (s.labels.pid !== undefined && pids.has(s.labels.pid) ? { ...s, ended: true as const } : s));
}

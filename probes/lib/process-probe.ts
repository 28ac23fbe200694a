import type { Subscriber, TeardownLogic } from 'rxjs';
import type { ComponentContext } from '../../engine/components/contracts.js';
import type { MapFullError } from '../../engine/bpf/bpf-object.js';
import type { Labels, Sample } from '../../engine/model/sample.js';
import { forEachProcess, guarded } from './guarded.js';
import { PidLabels } from './pid-labels.js';
import { ProcessLabeler, type ProcessLabel } from './process-labels.js';
import type { ProcessInfo } from './processes.js';
import { watchTargets, type TargetChange, type TargetConfig } from './target.js';

/** What a BPF probe brings to the runtime: its own attach, read and teardown; nothing else. */
export interface ProcessProbeHooks {
  /** A process the probe now tracks; a throw skips it with a warning (the others go on). */
  add?(p: ProcessInfo): void;
  /** A tracked process ended (after its final read). */
  remove?(p: ProcessInfo): void;
  /** Everything the probe reads now. `seen` collects pids a kernel-wide probe met. */
  read(now: number, seen: Set<number>): Sample[];
  /** Before the final read of ended processes: drain what is still in flight (event rings). */
  flushInFlight?(): void;
  /** A kernel-wide probe forgets a pid whose process is gone (its counts in the maps). */
  forget?(pid: number): void;
  /** Turns a full map into the option that sizes it, for the warning. */
  hint?(e: MapFullError): string;
  close(): void;
}

export interface ProcessProbeOptions {
  intervalMs: number;
  rescanMs: number;
  labels: readonly ProcessLabel[];
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
  const targeted = new ProcessLabeler(opts.labels, ctx.pods);
  const wide = new PidLabels(opts.labels, ctx.pods);
  const runtime: ProcessProbeRuntime = {
    labelsOf: opts.target ? (pid) => targeted.get(pid) : (pid, comm) => wide.get(pid, comm),
  };
  const hooks = makeHooks(runtime);

  const emit = (ending?: readonly ProcessInfo[]) => {
    const seen = new Set<number>();
    let batch = hooks.read(Date.now(), seen);
    // Kernel-wide: a pid is known to be gone only once its last counts are read.
    const gone = opts.target ? [] : wide.forgetExited(seen);
    const ended = new Set<string>([...(ending ?? []).map((p) => String(p.pid)), ...gone.map(String)]);
    if (ended.size) batch = endSeriesOf(batch, ended);
    if (batch.length) subscriber.next(batch);
    for (const pid of gone) hooks.forget?.(pid);
  };

  const targets = opts.target
    ? watchTargets(opts.target, opts.rescanMs, { log: ctx.log }).subscribe({
        next: guarded(subscriber, ({ added, removed }: TargetChange) => {
          if (removed.length) {
            hooks.flushInFlight?.();
            emit(removed);
            for (const p of removed) {
              targeted.delete(p.pid);
              hooks.remove?.(p);
            }
          }
          forEachProcess(
            added,
            ctx.log,
            (p) => {
              hooks.add?.(p);
              targeted.set(p);
              ctx.log.debug('tracking process', { pid: p.pid, exe: p.exe });
            },
            hooks.hint,
          );
        }),
        error: (e) => subscriber.error(e),
      })
    : undefined;
  const timer = setInterval(guarded(subscriber, () => emit()), opts.intervalMs);
  return () => {
    clearInterval(timer);
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

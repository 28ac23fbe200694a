import { Observable } from 'rxjs';
import type { ConfigProblem, ProbeFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { UprobeProbeConfig } from '../schemas/types.generated.js';
import type { Sample, SampleKind } from '../engine/model/sample.js';
import { requireFeature } from '../engine/bpf/kernel-features.js';
import { BinarySymbols } from './lib/binary-symbols.js';
import { HitCounters, type HitPoint } from './lib/hit-counters.js';
import { ProcessLabeler } from './lib/process-labels.js';
import { scanOptions } from './lib/scan-options.js';
import { processGone, type ProcessInfo } from './lib/processes.js';
import { argRegister } from './lib/registers.js';
import { stackCheckCookie } from './lib/go-prologue.js';
import { watchTargets, type TargetChange } from './lib/target.js';
import { forEachProcess, guarded } from './lib/guarded.js';
import { regexProblem } from '../stages/lib/matcher.js';

/** Links of one binary (inode): attached once, shared by every process running it. */
interface AttachedBinary {
  links: number[];
  pids: Set<number>;
}

export const uprobeProbe: ProbeFactory<UprobeProbeConfig> = {
  kind: 'probe',
  type: 'uprobe',
  description: 'Entry uprobes on functions of running processes, counted in-kernel per process (stripped Go too)',
  schema: loadComponentSchema('probe', 'uprobe'),
  emits(config) {
    const k = new Set<SampleKind>(['counter']);
    if (config.points.some((p) => p.arg)) k.add('histogram');
    if (config.points.some((p) => p.events)) k.add('event');
    return k;
  },
  check(config) {
    const problems: ConfigProblem[] = [];
    config.points.forEach((p, i) => {
      if ((p.symbol === undefined) === (p.offset === undefined)) problems.push({ path: ['points', i], message: 'give exactly one of `symbol` or `offset`' });
    });
    for (const k of ['comm', 'cgroup'] as const) {
      const p = regexProblem(config.target[k]);
      if (p) problems.push({ path: ['target', k], message: p });
    }
    return problems;
  },
  create(config, ctx) {
    const points: HitPoint[] = config.points.map((p) => ({
      name: p.name,
      ...(p.arg ? { argRegister: argRegister(p.arg) } : {}),
      ...(p.events ? { events: true } : {}),
    }));
    const { intervalMs, rescanMs, labels: which } = scanOptions(config);

    return {
      samples: () =>
        new Observable<Sample[]>((subscriber) => {
          requireFeature('uprobe');
          const counters = new HitCounters(points, true, 'uprobe');
          const labels = new ProcessLabeler(which, ctx.pods);
          const binaries = new Map<string, AttachedBinary>();
          const failedBinaries = new Set<string>();
          const labelsOf = (pid: number) => labels.get(pid);

          const attach = (proc: ProcessInfo): AttachedBinary | undefined => {
            const path = config.binary ? `/proc/${proc.pid}/root${config.binary}` : `/proc/${proc.pid}/exe`;
            const id = config.binary ? `${proc.binaryId}:${config.binary}` : proc.binaryId;
            const known = binaries.get(id);
            if (known) return known;
            if (failedBinaries.has(id)) return undefined;
            const links: number[] = [];
            let failedPoints = 0;
            let binaryError: unknown;
            try {
              const symbols = config.points.some((p) => p.symbol) ? BinarySymbols.open(path) : undefined;
              const at = config.points.map((p, cookie) => {
                if (!p.symbol) return { fileOffset: p.offset!, cookie };
                const f = symbols!.resolve(p.symbol, { at: p.at_entry ? 'entry' : 'stack_check' });
                return { fileOffset: f.fileOffset + f.attachDelta, cookie: cookie | stackCheckCookie(f.stackCheck) };
              });
              links.push(
                ...counters.obj.attachUprobes('on_hit', path, at, (i, e) => {
                  failedPoints++;
                  ctx.log.warn('uprobe point not attached', { point: config.points[i]!.name, exe: proc.exe, error: e });
                }),
              );
            } catch (e) {
              binaryError = e;
            }
            // Gone meanwhile: not the binary's fault, the next process running it is attached afresh.
            if (processGone(proc.pid)) {
              counters.obj.detach(links);
              throw new Error(`process ${proc.pid} exited while being attached`);
            }
            if (binaryError) ctx.log.warn('cannot probe this binary; its processes are skipped', { exe: proc.exe, pid: proc.pid, error: binaryError });
            if (links.length === 0) {
              failedBinaries.add(id);
              return undefined;
            }
            const b = { links, pids: new Set<number>() };
            binaries.set(id, b);
            ctx.log.info('uprobes attached', { exe: proc.exe, pid: proc.pid, points: config.points.length - failedPoints, links: links.length });
            return b;
          };

          const emit = () => {
            if (events) ctx.metrics.probeEventsDropped.labels(ctx.id).set(counters.eventsDropped());
            const batch = counters.read(labelsOf, Date.now());
            if (batch.length) subscriber.next(batch);
          };

          const events = points.some((p) => p.events) ? counters.openEvents(labelsOf, (b) => subscriber.next(b)) : undefined;
          const targets = watchTargets(config.target, rescanMs, { log: ctx.log }).subscribe({
            next: guarded(subscriber, ({ added, removed }: TargetChange) => {
              if (removed.length) {
                // Last counts of exiting processes go out before their counters are dropped.
                events?.drain();
                emit();
                for (const p of removed) {
                  counters.removePid(p.pid);
                  labels.delete(p.pid);
                  for (const [id, b] of binaries) {
                    if (!b.pids.delete(p.pid) || b.pids.size) continue;
                    counters.obj.detach(b.links);
                    binaries.delete(id);
                    ctx.log.info('uprobes detached: no process runs this binary any more', { exe: p.exe });
                  }
                }
              }
              forEachProcess(added, ctx.log, (p) => {
                const b = attach(p);
                if (!b) return;
                counters.addPid(p.pid);
                labels.set(p);
                b.pids.add(p.pid);
                ctx.log.debug('tracking process', { pid: p.pid, exe: p.exe });
              });
            }),
            error: (e) => subscriber.error(e),
          });
          const timer = setInterval(guarded(subscriber, emit), intervalMs);
          return () => {
            clearInterval(timer);
            targets.unsubscribe();
            events?.close();
            counters.close();
          };
        }),
    };
  },
};

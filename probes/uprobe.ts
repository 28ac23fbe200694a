import { Observable } from 'rxjs';
import type { ConfigProblem, ProbeFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { UprobeProbeConfig } from '../schemas/types.generated.js';
import type { Sample, SampleKind } from '../engine/model/sample.js';
import { requireFeature } from '../engine/bpf/kernel-features.js';
import { BinarySymbols } from './lib/binary-symbols.js';
import { HitCounters, type HitPoint } from './lib/hit-counters.js';
import { scanOptions } from './lib/scan-options.js';
import { processGone, ProcessExitedError, type ProcessInfo } from './lib/processes.js';
import { BinaryLinks, type AttachedBinary } from './lib/binary-links.js';
import { runProcessProbe } from './lib/process-probe.js';
import { argRegister } from './lib/registers.js';
import { stackCheckCookie } from './lib/go-prologue.js';
import { regexProblem } from '../stages/lib/matcher.js';

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
    const withEvents = points.some((p) => p.events);

    return {
      samples: () =>
        new Observable<Sample[]>((subscriber) =>
          runProcessProbe(subscriber, ctx, scanOptions(config), ({ labelsOf }) => {
            requireFeature('uprobe');
            const counters = new HitCounters(points, true, 'uprobe');
            const binaries = new BinaryLinks<AttachedBinary>((b) => counters.obj.detach(b.links), ctx.log, 'uprobes');

            const attach = (proc: ProcessInfo, path: string): AttachedBinary | undefined => {
              const symbols = config.points.some((p) => p.symbol) ? BinarySymbols.open(path) : undefined;
              const at = config.points.map((p, cookie) => {
                if (!p.symbol) return { fileOffset: p.offset!, cookie };
                const f = symbols!.resolve(p.symbol, { at: p.at_entry ? 'entry' : 'stack_check' });
                return { fileOffset: f.fileOffset + f.attachDelta, cookie: cookie | stackCheckCookie(f.stackCheck) };
              });
              const failed: { point: number; error: Error }[] = [];
              const links = counters.obj.attachUprobes('on_hit', path, at, (point, error) => void failed.push({ point, error }));
              // The process exiting between reading its binary and attaching fails the points too:
              // not the points' fault, nor worth a warning each.
              if (failed.length && processGone(proc.pid)) {
                counters.obj.detach(links);
                throw new ProcessExitedError(proc.pid);
              }
              for (const f of failed) ctx.log.warn('uprobe point not attached', { point: config.points[f.point]!.name, exe: proc.exe, error: f.error });
              if (links.length === 0) return undefined;
              ctx.log.info('uprobes attached', { exe: proc.exe, pid: proc.pid, points: config.points.length - failed.length, links: links.length });
              return { links };
            };

            const events = withEvents ? counters.openEvents(labelsOf, (b) => subscriber.next(b)) : undefined;
            return {
              add(p) {
                const path = config.binary ? `/proc/${p.pid}/root${config.binary}` : `/proc/${p.pid}/exe`;
                const id = config.binary ? `${p.binaryId}:${config.binary}` : p.binaryId;
                // The pid filter first: once "uprobes attached" is logged, every call counts.
                counters.addPid(p.pid);
                let b: AttachedBinary | undefined;
                try {
                  b = binaries.acquire(p, id, () => attach(p, path));
                } catch (e) {
                  counters.removePid(p.pid);
                  if (e instanceof ProcessExitedError) throw e;
                  ctx.log.warn('cannot probe this binary; its processes are skipped', { exe: p.exe, pid: p.pid, error: e });
                  return false;
                }
                if (!b) counters.removePid(p.pid);
                return b !== undefined;
              },
              remove(ps) {
                for (const p of ps) {
                  counters.removePid(p.pid);
                  binaries.release(p);
                }
              },
              flushInFlight: () => events?.drain(),
              read(now) {
                if (events) ctx.metrics.probeEventsDropped.labels(ctx.id).set(counters.eventsDropped());
                return counters.read(labelsOf, now);
              },
              close() {
                events?.close();
                counters.close();
              },
            };
          }),
        ),
    };
  },
};

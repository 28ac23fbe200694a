import { Observable } from 'rxjs';
import type { ProbeFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { KprobeProbeConfig } from '../schemas/types.generated.js';
import { requireFeature } from '../engine/bpf/kernel-features.js';
import type { Sample, SampleKind } from '../engine/model/sample.js';
import { HitCounters } from './lib/hit-counters.js';
import { PidLabels } from './lib/pid-labels.js';
import { ProcessLabeler } from './lib/process-labels.js';
import { scanOptions } from './lib/scan-options.js';
import { argRegister } from './lib/registers.js';
import { watchTargets, type TargetChange } from './lib/target.js';
import { forEachProcess, guarded } from './lib/guarded.js';

export const kprobeProbe: ProbeFactory<KprobeProbeConfig> = {
  kind: 'probe',
  type: 'kprobe',
  description: 'Entry kprobes on kernel functions, counted in-kernel per process; needs CONFIG_KPROBES',
  schema: loadComponentSchema('probe', 'kprobe'),
  emits: (config) => new Set<SampleKind>(config.points.some((p) => p.arg) ? ['counter', 'histogram'] : ['counter']),
  create(config, ctx) {
    const { intervalMs, rescanMs, labels: which } = scanOptions(config);
    return {
      samples: () =>
        new Observable<Sample[]>((subscriber) => {
          requireFeature('kprobe');
          const counters = new HitCounters(
            config.points.map((p) => ({ name: p.name, ...(p.arg ? { argRegister: argRegister({ c: p.arg }) } : {}) })),
            Boolean(config.target),
          );
          try {
            config.points.forEach((p, cookie) => counters.obj.attachKprobe('on_hit', p.function, cookie));
          } catch (e) {
            counters.close();
            throw e;
          }
          const targeted = new ProcessLabeler(which, ctx.pods);
          const wide = new PidLabels(which, ctx.pods);
          const emit = () => {
            const seen = new Set<number>();
            const batch = counters.read((pid) => (config.target ? targeted.get(pid) : wide.get(pid)), Date.now(), seen);
            if (batch.length) subscriber.next(batch);
            if (!config.target) for (const pid of wide.forgetExited(seen)) counters.forgetCounts(pid);
          };
          const targets = config.target
            ? watchTargets(config.target, rescanMs, { log: ctx.log }).subscribe({
                next: guarded(subscriber, ({ added, removed }: TargetChange) => {
                  if (removed.length) emit();
                  for (const p of removed) {
                    counters.removePid(p.pid);
                    targeted.delete(p.pid);
                  }
                  forEachProcess(added, ctx.log, (p) => {
                    counters.addPid(p.pid);
                    targeted.set(p);
                    ctx.log.debug('tracking process', { pid: p.pid, exe: p.exe });
                  });
                }),
                error: (e) => subscriber.error(e),
              })
            : undefined;
          ctx.log.info('kprobes attached', { functions: config.points.map((p) => p.function) });
          const timer = setInterval(guarded(subscriber, emit), intervalMs);
          return () => {
            clearInterval(timer);
            targets?.unsubscribe();
            counters.close();
          };
        }),
    };
  },
};

import { Observable } from 'rxjs';
import type { ProbeFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { KprobeProbeConfig } from '../schemas/types.generated.js';
import { requireFeature } from '../engine/bpf/kernel-features.js';
import type { Sample, SampleKind } from '../engine/model/sample.js';
import { HitCounters } from './lib/hit-counters.js';
import { scanOptions } from './lib/scan-options.js';
import { argRegister } from './lib/registers.js';
import { runProcessProbe } from './lib/process-probe.js';

export const kprobeProbe: ProbeFactory<KprobeProbeConfig> = {
  kind: 'probe',
  type: 'kprobe',
  description: 'Entry kprobes on kernel functions, counted in-kernel per process; needs CONFIG_KPROBES',
  schema: loadComponentSchema('probe', 'kprobe'),
  emits: (config) => new Set<SampleKind>(config.points.some((p) => p.arg) ? ['counter', 'histogram'] : ['counter']),
  create(config, ctx) {
    return {
      samples: () =>
        new Observable<Sample[]>((subscriber) =>
          runProcessProbe(subscriber, ctx, scanOptions(config), ({ labelsOf }) => {
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
            ctx.log.info('kprobes attached', { functions: config.points.map((p) => p.function) });
            return {
              add: (p) => {
                counters.addPid(p.pid);
                return true;
              },
              remove: (ps) => ps.forEach((p) => counters.removePid(p.pid)),
              forget: (pid) => counters.forgetCounts(pid),
              read: (now, seen) => counters.read(labelsOf, now, seen),
              close: () => counters.close(),
            };
          }),
        ),
    };
  },
};

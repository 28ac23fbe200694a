import type { ProbeFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { TracepointProbeConfig } from '../schemas/types.generated.js';
import { ensureTracefs, requireFeature } from '../engine/bpf/kernel-features.js';
import { kinds } from '../engine/model/kinds.js';
import { tracepointSamples } from './lib/tracepoint-counters.js';
import { scanOptions } from './lib/scan-options.js';
import { defer } from 'rxjs';

export const tracepointProbe: ProbeFactory<TracepointProbeConfig> = {
  kind: 'probe',
  type: 'tracepoint',
  description: 'Counts kernel tracepoint hits (category:event) per process, in-kernel; needs tracefs',
  schema: loadComponentSchema('probe', 'tracepoint'),
  emits: () => kinds('counter'),
  create(config, ctx) {
    return {
      samples: () =>
        defer(() => {
          // Classic tracepoints are found by their tracefs id; mount it if allowed, else say how.
          if (config.mount_tracefs ?? true) {
            const s = ensureTracefs();
            if (!s.ok) throw new Error(`${s.detail}: ${s.fix}`);
          } else requireFeature('tracefs');
          return tracepointSamples(
            {
              points: config.tracepoints.map((t) => {
                const [category, event] = t.event.split(':') as [string, string];
                return { name: t.name, attach: (obj, cookie) => obj.attachTracepoint('on_tracepoint', category, event, cookie) };
              }),
              objectPerPoint: false,
              program: 'on_tracepoint',
              ...scanOptions(config),
            },
            ctx,
          );
        }),
    };
  },
};

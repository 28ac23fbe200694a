import { defer } from 'rxjs';
import type { ProbeFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { RawTracepointProbeConfig } from '../schemas/types.generated.js';
import { kinds } from '../engine/model/kinds.js';
import { tracepointSamples } from './lib/tracepoint-counters.js';
import { scanOptions } from './lib/scan-options.js';

export const rawTracepointProbe: ProbeFactory<RawTracepointProbeConfig> = {
  kind: 'probe',
  type: 'raw_tracepoint',
  description: 'Counts raw kernel tracepoint hits per process, in-kernel; needs no tracefs',
  schema: loadComponentSchema('probe', 'raw_tracepoint'),
  emits: () => kinds('counter'),
  create(config, ctx) {
    return {
      samples: () =>
        defer(() =>
          tracepointSamples(
            {
              points: config.tracepoints.map((t) => ({ name: t.name, attach: (obj) => obj.attachRawTracepoint('on_raw_tracepoint', t.event) })),
              objectPerPoint: true,
              program: 'on_raw_tracepoint',
              ...scanOptions(config),
            },
            ctx,
          ),
        ),
    };
  },
};

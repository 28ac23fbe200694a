import type { SinkFactory } from '../../engine/components/contracts.js';
import { kinds } from '../../engine/model/kinds.js';
import type { Sample } from '../../engine/model/sample.js';

/** A sink for engine tests: records what each pipeline delivered. Registered only by tests. */
export function captureSink(store: { batches: { pipeline: string; samples: readonly Sample[] }[] }, opts: { failStart?: boolean; throwOnWrite?: boolean } = {}): SinkFactory {
  return {
    kind: 'sink',
    type: 'capture',
    description: 'test capture',
    schema: { type: 'object', properties: { type: { const: 'capture' } }, required: ['type'], additionalProperties: false },
    accepts: () => kinds('counter', 'gauge', 'histogram', 'event'),
    create: () => ({
      start: async () => {
        if (opts.failStart) throw new Error('port in use');
      },
      write: (samples, { pipeline }) => {
        if (opts.throwOnWrite) throw new Error('boom');
        store.batches.push({ pipeline, samples });
      },
      flush: async () => true,
      stop: async () => {},
    }),
  };
}

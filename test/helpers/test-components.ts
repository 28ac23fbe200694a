import type { SinkFactory, StageFactory } from '../../engine/components/contracts.js';
import { kinds } from '../../engine/model/kinds.js';
import type { SampleBatch } from '../../engine/model/sample.js';
import { batchOperator } from '../../stages/lib/batch-operator.js';

/** Components only tests register: they make the engine's failure paths happen on demand. */

const looseSchema = (type: string) => ({ type: 'object', properties: { type: { const: type }, tag: { type: 'string' }, fail_on: { type: 'integer' } }, required: ['type'], additionalProperties: false });

/** Counts every batch it sees, by `tag`: a stage that runs twice per batch shows it here. */
export function countingStage(seen: Map<string, number>): StageFactory {
  return {
    kind: 'stage',
    type: 'count',
    description: 'test: counts batches',
    schema: looseSchema('count'),
    outputKinds: (_c, input) => input,
    create: (config: { tag?: string }, ctx) =>
      batchOperator(ctx, () => (batch) => {
        seen.set(config.tag ?? '', (seen.get(config.tag ?? '') ?? 0) + 1);
        return [...batch];
      }),
  };
}

/** Throws on its `fail_on`-th batch (1-based), passes every other batch through. */
export function throwingStage(): StageFactory {
  return {
    kind: 'stage',
    type: 'throw_once',
    description: 'test: throws on one batch',
    schema: looseSchema('throw_once'),
    outputKinds: (_c, input) => input,
    create: (config: { fail_on?: number }, ctx) =>
      batchOperator(ctx, () => {
        let n = 0;
        return (batch) => {
          if (++n === (config.fail_on ?? 1)) throw new Error(`stage failure on batch ${n}`);
          return [...batch];
        };
      }),
  };
}

/** A sink whose flush never finishes (a receiver that stopped answering); records the deadline it was given. */
export function hangingSink(record: { flushDeadlines: (number | undefined)[]; writes: SampleBatch[] }): SinkFactory {
  return {
    kind: 'sink',
    type: 'hang',
    description: 'test: flush never returns',
    schema: looseSchema('hang'),
    accepts: () => kinds('counter', 'gauge', 'histogram', 'event'),
    create: () => ({
      start: async () => {},
      write: (b) => void record.writes.push(b),
      flush: (deadline) => {
        record.flushDeadlines.push(deadline);
        return new Promise<boolean>(() => {});
      },
      stop: async () => {},
    }),
  };
}

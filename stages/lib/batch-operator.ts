import { defer, filter, map, type OperatorFunction } from 'rxjs';
import type { Sample, SampleBatch } from '../../engine/model/sample.js';

/**
 * Most stages are "batch in, batch out" with state per subscription. State is created
 * inside `defer` so two subscriptions (or a rebuilt pipeline after reload) never share it,
 * and empty results are not passed on.
 */
export function batchOperator(makeStep: () => (batch: SampleBatch) => Sample[]): OperatorFunction<SampleBatch, SampleBatch> {
  return (source) =>
    defer(() => {
      const step = makeStep();
      return source.pipe(
        map(step),
        filter((b) => b.length > 0),
      );
    });
}

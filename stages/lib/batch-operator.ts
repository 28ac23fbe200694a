import { defer, filter, map, type OperatorFunction } from 'rxjs';
import type { ComponentContext } from '../../engine/components/contracts.js';
import type { Sample, SampleBatch } from '../../engine/model/sample.js';

/** A stage that keeps failing says so this often at most; every failure is counted. */
const REPORT_EVERY_MS = 60_000;

/**
 * Most stages are "batch in, batch out" with state per subscription. State is created
 * inside `defer` so two subscriptions (or a rebuilt pipeline after reload) never share it,
 * and empty results are not passed on. A step that throws costs that batch only: counted in
 * probeflow_component_errors_total{kind="stage"}, logged, and the next batch goes through —
 * an error notification would end the pipeline for good.
 */
export function batchOperator(ctx: ComponentContext, makeStep: () => (batch: SampleBatch) => Sample[]): OperatorFunction<SampleBatch, SampleBatch> {
  return (source) =>
    defer(() => {
      const step = makeStep();
      let lastReport = -Infinity;
      let unreported = 0;
      const guarded = (batch: SampleBatch): Sample[] => {
        try {
          return step(batch);
        } catch (e) {
          ctx.metrics.componentErrors.labels('stage', ctx.id).inc();
          unreported++;
          const now = Date.now();
          if (now - lastReport >= REPORT_EVERY_MS) {
            ctx.log.error('stage failed on a batch; the batch is dropped, the stage goes on', { stage: ctx.id, error: e, failed_batches: unreported, samples: batch.length });
            lastReport = now;
            unreported = 0;
          }
          return [];
        }
      };
      return source.pipe(
        map(guarded),
        filter((b) => b.length > 0),
      );
    });
}

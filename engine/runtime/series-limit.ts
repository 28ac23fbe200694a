import { defer, filter, map, type OperatorFunction } from 'rxjs';
import { BatchPositions } from '../model/batch-positions.js';
import { keyOf, type Sample, type SampleBatch } from '../model/sample.js';

export interface SeriesLimitOptions {
  maxSeries: number;
  /** A series silent for this long frees its slot (a source that stopped without saying so). */
  staleAfterMs: number;
  /** Called with how many samples of metric `name` were dropped in one batch. */
  onOverflow: (name: string, dropped: number) => void;
}

/**
 * Guards a pipeline against a cardinality explosion (a label per goroutine, per request):
 * the first `maxSeries` series pass, samples of further series are dropped and counted
 * per metric name, so the operator sees which metric overflowed and by how much.
 */
export function limitSeries(opts: SeriesLimitOptions): OperatorFunction<SampleBatch, SampleBatch> {
  return (source) =>
    defer(() => {
      // Per series, the number of the batch it was last seen in, a small integer kept in
      // place: a sample's timestamp is a double, which the image's interpreter boxes anew at
      // every read of it — a box per sample, every read, where one per batch does.
      const lastSeen = new Map<string, { batch: number }>();
      // Each sample's entry by its place in the batch (BatchPositions): found without its key.
      const positions = new BatchPositions<{ batch: number }>();
      let batchNo = 0;
      /** When the last sweep ran, and the batch number then: series not seen since are silent. */
      let sweptAt = -Infinity;
      let sweptBatch = 0;
      return source.pipe(
        map((batch) => {
          batchNo++;
          // A copy only once a sample is dropped: almost every batch passes whole.
          let out: Sample[] | undefined;
          let overflow: Map<string, number> | undefined;
          // Indexed, not for…of: the image runs without the optimizing compiler, under which an
          // array iterator allocates a result object per sample.
          const t = positions.begin(batch.length);
          for (let i = 0; i < batch.length; i++) {
            const s = batch[i]!;
            const known = s.ended ? undefined : positions.at(t, i, s);
            if (known) {
              known.batch = batchNo;
              out?.push(s);
              continue;
            }
            const key = keyOf(s);
            const seen = lastSeen.get(key);
            if (seen || lastSeen.size < opts.maxSeries) {
              // An ended series frees its slot at once: its process exited.
              if (s.ended) {
                lastSeen.delete(key);
                positions.forget();
              } else if (!seen) {
                const entry = { batch: batchNo };
                lastSeen.set(key, entry);
                positions.remember(t, i, s, entry);
              } else {
                seen.batch = batchNo;
                positions.remember(t, i, s, seen);
              }
              out?.push(s);
            } else {
              out ??= batch.slice(0, i);
              overflow ??= new Map();
              overflow.set(s.name, (overflow.get(s.name) ?? 0) + 1);
            }
          }
          positions.end(t);
          // Samples of a batch come from one read: its ends tell its time well enough to sweep by.
          const now = batch.length ? Math.max(batch[0]!.timestamp, batch[batch.length - 1]!.timestamp) : -Infinity;
          if (now - sweptAt >= opts.staleAfterMs) {
            // Silent since the last sweep, at least staleAfterMs ago.
            lastSeen.forEach((seen, k) => {
              if (seen.batch <= sweptBatch) lastSeen.delete(k);
            });
            positions.forget();
            sweptAt = now;
            sweptBatch = batchNo;
          }
          overflow?.forEach((n, name) => opts.onOverflow(name, n));
          return out ?? batch;
        }),
        filter((b) => b.length > 0),
      );
    });
}

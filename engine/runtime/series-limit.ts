import { defer, filter, map, type OperatorFunction } from 'rxjs';
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
      // A box per series, updated in place: a number stored as a Map value is a new heap
      // number per set, every series every read.
      const lastSeen = new Map<string, { at: number }>();
      let lastSweep = -Infinity;
      return source.pipe(
        map((batch) => {
          const out: Sample[] = [];
          let overflow: Map<string, number> | undefined;
          let now = -Infinity;
          for (const s of batch) {
            if (s.timestamp > now) now = s.timestamp;
            const key = keyOf(s);
            const seen = lastSeen.get(key);
            if (seen || lastSeen.size < opts.maxSeries) {
              // An ended series frees its slot at once: its process exited.
              if (s.ended) lastSeen.delete(key);
              else if (!seen) lastSeen.set(key, { at: s.timestamp });
              else if (s.timestamp > seen.at) seen.at = s.timestamp;
              out.push(s);
            } else {
              overflow ??= new Map();
              overflow.set(s.name, (overflow.get(s.name) ?? 0) + 1);
            }
          }
          if (now - lastSweep >= opts.staleAfterMs) {
            lastSweep = now;
            lastSeen.forEach((seen, k) => {
              if (now - seen.at > opts.staleAfterMs) lastSeen.delete(k);
            });
          }
          overflow?.forEach((n, name) => opts.onOverflow(name, n));
          return out;
        }),
        filter((b) => b.length > 0),
      );
    });
}

import type { StageFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { HistogramStageConfig } from '../schemas/types.generated.js';
import { ENDED, keyOf, seriesKey, type HistogramSample, type Sample, type SampleKind } from '../engine/model/sample.js';
import { batchOperator } from './lib/batch-operator.js';
import { bucketBounds, boundsProblem } from './lib/buckets.js';
import { bucketIndex, rebucket } from './lib/histogram-math.js';
import { compileMatcher, matcherProblems } from './lib/matcher.js';
import { maxTimestamp, SeriesClock } from './lib/series-clock.js';
import { parseDuration } from '../engine/util/duration.js';

type Counting = Omit<HistogramSample, 'counts' | 'sum' | 'count' | 'timestamp'> & { counts: number[]; sum: number; count: number; timestamp: number };

export const histogramStage: StageFactory<HistogramStageConfig> = {
  kind: 'stage',
  type: 'histogram',
  description: 'Values → cumulative histogram (explicit, linear or exponential buckets); re-buckets histograms',
  schema: loadComponentSchema('stage', 'histogram'),
  outputKinds(config, input) {
    const matchedKinds = new Set<SampleKind>(config.match?.kind ?? input);
    const out = new Set<SampleKind>();
    for (const k of input) {
      if (!matchedKinds.has(k) || config.keep_input) out.add(k);
      if (matchedKinds.has(k)) out.add('histogram');
    }
    return out;
  },
  check(config) {
    const p = boundsProblem(config.buckets);
    return [...(p ? [p] : []), ...matcherProblems(config.match, ['match'])];
  },
  create(config, ctx) {
    const bounds = bucketBounds(config.buckets);
    const matches = compileMatcher(config.match);
    const scale = config.scale ?? 1;
    return batchOperator(ctx, () => {
      const hists = new SeriesClock<HistogramSample>(parseDuration(config.stale_after ?? '5m'));
      return (batch) => {
        const out: Sample[] = [];
        const touched = new Map<string, Counting>();
        const ending = new Set<string>();
        for (const s of batch) {
          if (!matches(s)) {
            out.push(s);
            continue;
          }
          if (config.keep_input) out.push(s);
          const name = config.name ?? s.name;
          if (s.kind === 'histogram') {
            // An incoming histogram is already cumulative: re-bucket the snapshot, don't add it up.
            out.push({ ...rebucket(s, bounds), name });
            continue;
          }
          if (!Number.isFinite(s.value)) continue;
          const key = name === s.name ? keyOf(s) : seriesKey(name, s.labels);
          if (s.ended) ending.add(key);
          // Copy a series' state once per batch, then count in place: emitted samples stay immutable.
          let h: Counting | undefined = touched.get(key);
          if (!h) {
            const prev = hists.get(key)?.value;
            h = {
              kind: 'histogram',
              name,
              labels: s.labels,
              timestamp: prev ? prev.timestamp : s.timestamp,
              bounds,
              counts: prev ? prev.counts.slice() : new Array<number>(bounds.length + 1).fill(0),
              sum: prev ? prev.sum : 0,
              count: prev ? prev.count : 0,
            };
            touched.set(key, h);
          }
          const v = s.value * scale;
          h.counts[bucketIndex(bounds, v)]! += 1;
          h.sum += v;
          h.count += 1;
          h.timestamp = Math.max(h.timestamp, s.timestamp);
        }
        for (const [key, h] of touched) {
          // Values of an ended series: its histogram ends with them (out last, then forgotten).
          if (ending.has(key)) {
            hists.delete(key);
            out.push({ ...h, ...ENDED });
            continue;
          }
          hists.set(key, h.timestamp, h);
          out.push(h);
        }
        hists.sweep(maxTimestamp(batch));
        return out;
      };
    });
  },
};

import type { StageFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { DeltaStageConfig } from '../schemas/types.generated.js';
import { kinds } from '../engine/model/kinds.js';
import { ENDED, keyOf, type HistogramSample, type Sample, type SampleKind } from '../engine/model/sample.js';
import { parseDuration } from '../engine/util/duration.js';
import { batchOperator } from './lib/batch-operator.js';
import { histogramDelta } from './lib/histogram-math.js';
import { maxTimestamp, rateName, SeriesClock } from './lib/series-clock.js';

type Prev = { value: number } | { hist: HistogramSample };

export const deltaStage: StageFactory<DeltaStageConfig> = {
  kind: 'stage',
  type: 'delta',
  description: 'Cumulative → per-interval delta and/or per-second rate, with counter-reset detection',
  schema: loadComponentSchema('stage', 'delta'),
  outputKinds(config, input) {
    const apply = new Set<SampleKind>(config.apply_to ?? ['counter', 'histogram']);
    const out = new Set<SampleKind>();
    for (const k of input) {
      if (!apply.has(k)) out.add(k);
      else if (k === 'histogram') out.add('histogram');
      else out.add('gauge');
    }
    return out;
  },
  create(config, ctx) {
    const emit = config.emit ?? 'delta';
    const apply = new Set<SampleKind>(config.apply_to ?? ['counter', 'histogram']);
    const deltaSuffix = config.delta_suffix ?? '';
    const rateSuffix = config.rate_suffix ?? '_per_second';
    const staleMs = parseDuration(config.stale_after ?? '5m');
    const dropped = (reason: string) => ctx.metrics.stageDropped.labels(ctx.id, reason).inc();

    return batchOperator(ctx, () => {
      const clock = new SeriesClock<Prev>(staleMs);
      return (batch) => {
        const out: Sample[] = [];
        for (const s of batch) {
          if (!apply.has(s.kind as SampleKind) || s.kind === 'event') {
            out.push(s);
            continue;
          }
          const key = keyOf(s);
          if (!clock.inOrder(key, s)) {
            dropped('out_of_order');
            continue;
          }
          if (s.kind !== 'histogram' && !Number.isFinite(s.value)) {
            dropped('nan');
            continue;
          }
          const prev = clock.get(key);
          // The source's last sample: its delta goes out marked as the end, and its state with it.
          if (s.ended) clock.delete(key);
          else clock.set(key, s.timestamp, s.kind === 'histogram' ? { hist: s } : { value: s.value });
          if (s.kind === 'histogram') {
            if (!prev || !('hist' in prev.value)) continue;
            const d = histogramDelta(prev.value.hist, s);
            if (d) out.push({ ...d, name: s.name + deltaSuffix });
            continue;
          }
          if (!prev || !('value' in prev.value)) continue;
          let delta = s.value - prev.value.value;
          // A counter never decreases: a smaller value means the source restarted from zero.
          if (s.kind === 'counter' && delta < 0) delta = s.value;
          const base = { labels: s.labels, timestamp: s.timestamp, kind: 'gauge' as const, ...(s.ended && ENDED) };
          if (emit !== 'rate') out.push({ ...base, name: s.name + deltaSuffix, value: delta });
          if (emit !== 'delta') out.push({ ...base, name: rateName(s.name, rateSuffix), value: (delta * 1000) / (s.timestamp - prev.ts) });
        }
        clock.sweep(maxTimestamp(batch));
        return out;
      };
    });
  },
};

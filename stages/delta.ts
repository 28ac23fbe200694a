import type { StageFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { DeltaStageConfig } from '../schemas/types.generated.js';
import { derivedGauge, keyOf, type HistogramSample, type Sample, type SampleKind } from '../engine/model/sample.js';
import { parseDuration } from '../engine/util/duration.js';
import { batchOperator } from './lib/batch-operator.js';
import { histogramDelta } from './lib/histogram-math.js';
import { derivedNames } from './lib/derived-names.js';
import { isNewer, maxTimestamp, rateName, SeriesClock } from './lib/series-clock.js';

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
    const deltaName = derivedNames((name) => name + deltaSuffix);
    const rateNameOf = derivedNames((name) => rateName(name, rateSuffix));
    const staleMs = parseDuration(config.stale_after ?? '5m');
    const dropped = (reason: string) => ctx.metrics.stageDropped.labels(ctx.id, reason).inc();

    return batchOperator(ctx, () => {
      // A counter's or gauge's last value, or a histogram's last snapshot.
      const clock = new SeriesClock<number | HistogramSample>(staleMs);
      return (batch) => {
        const out: Sample[] = [];
        for (const s of batch) {
          if (!apply.has(s.kind as SampleKind) || s.kind === 'event') {
            out.push(s);
            continue;
          }
          const key = keyOf(s);
          const prev = clock.get(key);
          if (!isNewer(prev, s)) {
            dropped('out_of_order');
            continue;
          }
          if (s.kind !== 'histogram' && !Number.isFinite(s.value)) {
            dropped('nan');
            continue;
          }
          const prevTs = prev?.ts ?? 0;
          const prevValue = prev?.value;
          // The source's last sample: its delta goes out marked as the end, and its state with it.
          if (s.ended) clock.delete(key);
          else clock.set(key, s.timestamp, s.kind === 'histogram' ? s : s.value, prev);
          if (s.kind === 'histogram') {
            if (prevValue === undefined || typeof prevValue === 'number') continue;
            const d = histogramDelta(prevValue, s);
            if (d) out.push(deltaSuffix ? { ...d, name: deltaName(s.name) } : d);
            continue;
          }
          if (typeof prevValue !== 'number') continue;
          let delta = s.value - prevValue;
          // A counter never decreases: a smaller value means the source restarted from zero.
          if (s.kind === 'counter' && delta < 0) delta = s.value;
          if (emit !== 'rate') out.push(derivedGauge(deltaName(s.name), s, delta));
          if (emit !== 'delta') out.push(derivedGauge(rateNameOf(s.name), s, (delta * 1000) / (s.timestamp - prevTs)));
        }
        clock.sweep(maxTimestamp(batch));
        return out;
      };
    });
  },
};

import type { StageFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { RateStageConfig } from '../schemas/types.generated.js';
import { derivedGauge, keyOf, type Sample, type SampleKind } from '../engine/model/sample.js';
import { parseDuration } from '../engine/util/duration.js';
import { batchOperator } from './lib/batch-operator.js';
import { derivedNames } from './lib/derived-names.js';
import { maxTimestamp, rateName, SeriesClock } from './lib/series-clock.js';

interface Window {
  /** Oldest retained point and the increase accumulated since it, resets already folded in. */
  points: { ts: number; value: number; increase: number }[];
}

export const rateStage: StageFactory<RateStageConfig> = {
  kind: 'stage',
  type: 'rate',
  description: 'Per-second rate of counters over a sliding window, resets handled',
  schema: loadComponentSchema('stage', 'rate'),
  outputKinds(config, input) {
    const out = new Set<SampleKind>(input);
    if (input.has('counter')) {
      out.add('gauge');
      if (!config.keep_input) out.delete('counter');
    }
    return out;
  },
  check(config) {
    return parseDuration(config.window ?? '1m') === 0 ? [{ path: ['window'], message: 'must be longer than 0s' }] : [];
  },
  create(config, ctx) {
    const windowMs = parseDuration(config.window ?? '1m');
    const suffix = config.suffix ?? '_rate';
    const rateNameOf = derivedNames((name) => rateName(name, suffix));
    return batchOperator(ctx, () => {
      const clock = new SeriesClock<Window>(Math.max(windowMs * 2, 60_000));
      return (batch) => {
        const out: Sample[] = [];
        for (const s of batch) {
          if (s.kind !== 'counter') {
            out.push(s);
            continue;
          }
          if (config.keep_input) out.push(s);
          const key = keyOf(s);
          if (!Number.isFinite(s.value) || !clock.inOrder(key, s)) {
            ctx.metrics.stageDropped.labels(ctx.id, Number.isFinite(s.value) ? 'out_of_order' : 'nan').inc();
            continue;
          }
          const w = clock.get(key)?.value ?? { points: [] };
          const last = w.points[w.points.length - 1];
          const step = last ? (s.value >= last.value ? s.value - last.value : s.value) : 0;
          w.points.push({ ts: s.timestamp, value: s.value, increase: (last?.increase ?? 0) + step });
          // Keep one point at or before the window start so the rate spans the whole window.
          while (w.points.length > 2 && w.points[1]!.ts <= s.timestamp - windowMs) w.points.shift();
          if (s.ended) clock.delete(key);
          else clock.set(key, s.timestamp, w);
          const first = w.points[0]!;
          if (w.points.length < 2) continue;
          const seconds = (s.timestamp - first.ts) / 1000;
          out.push(derivedGauge(rateNameOf(s.name), s, (w.points[w.points.length - 1]!.increase - first.increase) / seconds));
        }
        clock.sweep(maxTimestamp(batch));
        return out;
      };
    });
  },
};

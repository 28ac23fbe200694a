import { Observable } from 'rxjs';
import { guarded } from './lib/guarded.js';
import type { ConfigProblem, ProbeFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { SyntheticProbeConfig } from '../schemas/types.generated.js';
import type { Sample, SampleKind } from '../engine/model/sample.js';
import { parseDuration } from '../engine/util/duration.js';
import { bucketIndex } from '../stages/lib/histogram-math.js';

type SeriesConfig = SyntheticProbeConfig['series'][number];

/** mulberry32: tiny, seedable, good enough to make demo data repeatable. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generator(v: SeriesConfig['value'], random: () => number): (tick: number, now: number) => number {
  if (v.constant !== undefined) return () => v.constant!;
  if (v.steps) {
    let i = 0;
    return () => v.steps![i++ % v.steps!.length]!;
  }
  if (v.random) return () => v.random!.min + random() * (v.random!.max - v.random!.min);
  if (v.sine) {
    const period = parseDuration(v.sine.period);
    const { min, max } = v.sine;
    return (_t, now) => min + ((max - min) * (1 + Math.sin((2 * Math.PI * now) / period))) / 2;
  }
  return () => 0;
}

export const syntheticProbe: ProbeFactory<SyntheticProbeConfig> = {
  kind: 'probe',
  type: 'synthetic',
  description: 'SYNTHETIC demo data (counters, gauges, events, histograms) on a timer; observes nothing',
  schema: loadComponentSchema('probe', 'synthetic'),
  emits: (config) => new Set<SampleKind>(config.series.map((s) => s.kind)),
  check(config) {
    const problems: ConfigProblem[] = [];
    config.series.forEach((s, i) => {
      if (s.kind === 'histogram' && !s.buckets) problems.push({ path: ['series', i], message: 'a histogram series needs `buckets`' });
      if (s.kind !== 'histogram' && s.buckets) problems.push({ path: ['series', i, 'buckets'], message: `only histogram series take buckets (this one is a ${s.kind})` });
      if (s.reset_every !== undefined && s.kind !== 'counter') problems.push({ path: ['series', i, 'reset_every'], message: 'only counters reset' });
    });
    if (parseDuration(config.interval ?? '1s') === 0) problems.push({ path: ['interval'], message: 'must be longer than 0s' });
    return problems;
  },
  create(config) {
    const intervalMs = parseDuration(config.interval ?? '1s');
    return {
      samples: () =>
        new Observable<Sample[]>((subscriber) => {
          const random = rng(config.seed ?? 1);
          const series = config.series.map((s) => ({ cfg: s, next: generator(s.value, random), total: 0, counts: s.buckets ? new Array<number>(s.buckets.length + 1).fill(0) : [], sum: 0, count: 0 }));
          let tick = 0;
          const emit = () => {
            const now = Date.now();
            const batch: Sample[] = [];
            for (const s of series) {
              const { name, kind, labels = {}, per_tick = 1, reset_every } = s.cfg;
              if (kind === 'counter') {
                if (reset_every && tick > 0 && tick % reset_every === 0) s.total = 0;
                s.total += s.next(tick, now);
                batch.push({ kind, name, labels, timestamp: now, value: s.total });
              } else if (kind === 'gauge') {
                batch.push({ kind, name, labels, timestamp: now, value: s.next(tick, now) });
              } else if (kind === 'event') {
                for (let i = 0; i < per_tick; i++) batch.push({ kind, name, labels, timestamp: now, value: s.next(tick, now) });
              } else {
                const bounds = s.cfg.buckets!;
                for (let i = 0; i < per_tick; i++) {
                  const v = s.next(tick, now);
                  s.counts[bucketIndex(bounds, v)]! += 1;
                  s.sum += v;
                  s.count += 1;
                }
                batch.push({ kind, name, labels, timestamp: now, bounds, counts: [...s.counts], sum: s.sum, count: s.count });
              }
            }
            tick++;
            subscriber.next(batch);
            if (config.ticks !== undefined && tick >= config.ticks) subscriber.complete();
          };
          emit();
          const timer = setInterval(guarded(subscriber, emit), intervalMs);
          return () => clearInterval(timer);
        }),
    };
  },
};

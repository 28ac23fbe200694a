/**
 * The engine's stages on one core, in process: samples through delta → histogram → threshold,
 * as the shipped pipelines chain them. The input is what a probe hands over: one sample per
 * series per read, one labels object per series reused from read to read.
 */
import { from, lastValueFrom, type Observable } from 'rxjs';
import type { Sample, SampleBatch } from '../engine/model/sample.js';
import { deltaStage } from '../stages/delta.js';
import { histogramStage } from '../stages/histogram.js';
import { relabelStage } from '../stages/relabel.js';
import { thresholdStage } from '../stages/threshold.js';
import { benchContext, median, table } from './lib.js';

const RUNS = 5;
const SAMPLES = 400_000;

type Chain = (src: Observable<SampleBatch>) => Observable<SampleBatch>;

const deltaHistogramThreshold: Chain = (src) =>
  src.pipe(
    deltaStage.create({ type: 'delta', emit: 'rate' }, benchContext('delta')),
    histogramStage.create({ type: 'histogram', buckets: { exponential: { start: 1, factor: 2, count: 20 } }, keep_input: true }, benchContext('hist')),
    thresholdStage.create({ type: 'threshold', name: 'bench_alert', above: 1e9 }, benchContext('thr')),
  );

const withRelabel: Chain = (src) =>
  deltaHistogramThreshold(
    src.pipe(relabelStage.create({ type: 'relabel', rules: [{ set: { cluster: 'c1' } }, { drop: ['comm'] }, { name_prefix: 'node_' }] }, benchContext('relabel'))),
  );

/** `reads` reads of `series` series, each read one batch, one second apart. */
function reads(series: number): Sample[][] {
  const labels = Array.from({ length: series }, (_, i) => ({ pid: String(1000 + i), comm: 'api' }));
  return Array.from({ length: SAMPLES / series }, (_, r) =>
    labels.map((l, i) => ({ kind: 'counter' as const, name: 'bench_total', labels: l, timestamp: 1_000 + r * 1_000, value: r * 10 + (i % 7) })),
  );
}

async function samplesPerSecond(chain: Chain, input: Sample[][]): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    await lastValueFrom(chain(from(input)), { defaultValue: [] });
    times.push(performance.now() - t);
  }
  return SAMPLES / (median(times) / 1000);
}

export async function engineThroughput(): Promise<string> {
  const rows: string[][] = [];
  for (const [label, chain] of [['delta → histogram → threshold', deltaHistogramThreshold], ['relabel (set, drop, prefix) → delta → histogram → threshold', withRelabel]] as const) {
    for (const batchSize of [100, 1000]) {
      const rate = await samplesPerSecond(chain, reads(batchSize));
      rows.push([`${label}, batches of ${batchSize} (${batchSize} series)`, `${(rate / 1e6).toFixed(2)} M samples/s`, `${(1e9 / rate).toFixed(0)} ns`]);
    }
  }
  return table([`engine (one core, in a process of its own; ${SAMPLES / 1000}k input samples, median of ${RUNS})`, 'throughput', 'per input sample'], rows);
}

import { TestScheduler } from 'rxjs/testing';
import { expect } from 'vitest';
import type { CheckContext, ComponentContext, StageFactory } from '../../engine/components/contracts.js';
import type { HistogramSample, Labels, Sample, SampleBatch } from '../../engine/model/sample.js';
import { SelfMetrics } from '../../engine/runtime/self-metrics.js';
import { silentLogger } from '../../engine/util/log.js';
import { WritePolicy } from '../../engine/security/write-policy.js';
import { tmpdir } from 'node:os';

export const counter = (name: string, value: number, timestamp: number, labels: Labels = {}): Sample => ({ kind: 'counter', name, labels, timestamp, value });
export const gauge = (name: string, value: number, timestamp: number, labels: Labels = {}): Sample => ({ kind: 'gauge', name, labels, timestamp, value });
export const event = (name: string, value: number, timestamp: number, labels: Labels = {}): Sample => ({ kind: 'event', name, labels, timestamp, value });
export const hist = (name: string, bounds: number[], counts: number[], sum: number, timestamp: number, labels: Labels = {}): HistogramSample => ({
  kind: 'histogram',
  name,
  labels,
  timestamp,
  bounds,
  counts,
  sum,
  count: counts.reduce((a, b) => a + b, 0),
});

export function checkContext(): CheckContext {
  return { baseDir: process.cwd(), writePolicy: new WritePolicy([tmpdir()]) };
}

export function testContext(id = 'test-stage'): ComponentContext & { metrics: SelfMetrics } {
  return { id, log: silentLogger, baseDir: process.cwd(), metrics: new SelfMetrics(), writePolicy: new WritePolicy([tmpdir()]) };
}

/** Runs a marble test of a stage: batches by marble letter in, expected batches by letter out. */
export function marbles(
  factory: StageFactory,
  config: Record<string, unknown>,
  input: { marble: string; values: Record<string, SampleBatch> },
  expected: { marble: string; values: Record<string, SampleBatch> },
  ctx = testContext(),
): void {
  const scheduler = new TestScheduler((actual, wanted) => expect(actual).toEqual(wanted));
  scheduler.run(({ cold, expectObservable }) => {
    const op = factory.create({ type: factory.type, ...config }, ctx);
    expectObservable(cold(input.marble, input.values).pipe(op)).toBe(expected.marble, expected.values);
  });
}

/** Pushes batches through a stage synchronously and returns every output batch. */
export function runStage(factory: StageFactory, config: Record<string, unknown>, batches: SampleBatch[], ctx = testContext()): SampleBatch[] {
  const out: SampleBatch[] = [];
  const op = factory.create({ type: factory.type, ...config }, ctx);
  const sub = op(fromArray(batches)).subscribe((b) => out.push(b));
  sub.unsubscribe();
  return out;
}

import { from } from 'rxjs';
function fromArray(batches: SampleBatch[]) {
  return from(batches);
}

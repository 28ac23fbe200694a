import { from } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { deltaStage } from '../../stages/delta.js';
import { counter, event, gauge, hist, marbles, runStage, testContext } from '../helpers/samples.js';

const g = (name: string, value: number, ts: number, labels = {}) => gauge(name, value, ts, labels);

describe('delta stage', () => {
  it('emits nothing for the first sample, then the change since the previous one', () => {
    marbles(
      deltaStage,
      {},
      { marble: 'a-b-c|', values: { a: [counter('x', 10, 1000)], b: [counter('x', 15, 2000)], c: [counter('x', 22, 3000)] } },
      { marble: '--b-c|', values: { b: [g('x', 5, 2000)], c: [g('x', 7, 3000)] } },
    );
  });

  it('treats a decreasing counter as a restart: the new value is the increase, never negative', () => {
    const out = runStage(deltaStage, {}, [[counter('x', 100, 1000)], [counter('x', 120, 2000)], [counter('x', 7, 3000)], [counter('x', 10, 4000)]]);
    expect(out).toEqual([[g('x', 20, 2000)], [g('x', 7, 3000)], [g('x', 3, 4000)]]);
  });

  it('computes per-second rates from the timestamps and names them with the suffix', () => {
    const out = runStage(deltaStage, { emit: 'both', rate_suffix: '_rate', delta_suffix: '_delta' }, [[counter('x', 0, 0)], [counter('x', 30, 500)]]);
    expect(out).toEqual([[g('x_delta', 30, 500), g('x_rate', 60, 500)]]);
  });

  it('names the rate of a _total counter without _total', () => {
    const out = runStage(deltaStage, { emit: 'rate' }, [[counter('reqs_total', 0, 0)], [counter('reqs_total', 10, 1000)]]);
    expect(out).toEqual([[g('reqs_per_second', 10, 1000)]]);
  });

  it('keeps series apart by labels', () => {
    const out = runStage(deltaStage, {}, [
      [counter('x', 1, 1000, { p: '1' }), counter('x', 100, 1000, { p: '2' })],
      [counter('x', 4, 2000, { p: '1' }), counter('x', 150, 2000, { p: '2' })],
    ]);
    expect(out).toEqual([[g('x', 3, 2000, { p: '1' }), g('x', 50, 2000, { p: '2' })]]);
  });

  it('drops NaN and keeps the previous baseline', async () => {
    const ctx = testContext('d');
    const out = runStage(deltaStage, {}, [[counter('x', 1, 1000)], [counter('x', NaN, 2000)], [counter('x', 5, 3000)]], ctx);
    expect(out).toEqual([[g('x', 4, 3000)]]);
    const m = await ctx.metrics.stageDropped.get();
    expect(m.values.find((v) => v.labels.reason === 'nan')?.value).toBe(1);
  });

  it('drops out-of-order and duplicate timestamps and counts them', async () => {
    const ctx = testContext('d');
    const out = runStage(deltaStage, {}, [[counter('x', 1, 2000)], [counter('x', 2, 1000)], [counter('x', 3, 2000)], [counter('x', 4, 3000)]], ctx);
    expect(out).toEqual([[g('x', 3, 3000)]]);
    const m = await ctx.metrics.stageDropped.get();
    expect(m.values.find((v) => v.labels.reason === 'out_of_order')?.value).toBe(2);
  });

  it('passes events and non-applied kinds through untouched', () => {
    const e = event('hit', 1, 1000);
    const gg = gauge('temp', 20, 1000);
    expect(runStage(deltaStage, {}, [[e, gg]])).toEqual([[e, gg]]);
  });

  it('takes gauge deltas, negative ones included, when asked', () => {
    const out = runStage(deltaStage, { apply_to: ['gauge'] }, [[gauge('q', 10, 1000)], [gauge('q', 4, 2000)]]);
    expect(out).toEqual([[g('q', -6, 2000)]]);
  });

  it('subtracts histogram snapshots bucket by bucket and detects their resets', () => {
    const out = runStage(deltaStage, {}, [
      [hist('h', [1, 2], [1, 1, 0], 2, 1000)],
      [hist('h', [1, 2], [3, 1, 1], 9, 2000)],
      [hist('h', [1, 2], [1, 0, 0], 0.5, 3000)],
    ]);
    expect(out).toEqual([[hist('h', [1, 2], [2, 0, 1], 7, 2000)], [hist('h', [1, 2], [1, 0, 0], 0.5, 3000)]]);
  });

  it('emits nothing for an empty batch', () => {
    marbles(deltaStage, {}, { marble: 'a|', values: { a: [] } }, { marble: '-|', values: {} });
  });

  it('forgets series that went stale and re-baselines them', () => {
    const out = runStage(deltaStage, { stale_after: '10s' }, [[counter('x', 1, 0)], [counter('y', 1, 20_000)], [counter('x', 50, 40_000)]]);
    expect(out).toEqual([]);
  });

  it('keeps state per subscription: a second subscriber starts without a baseline', () => {
    const op = deltaStage.create({ type: 'delta' }, testContext());
    const first: unknown[] = [];
    const second: unknown[] = [];
    op(from([[counter('x', 1, 1000)], [counter('x', 2, 2000)]])).subscribe((b) => first.push(b));
    op(from([[counter('x', 10, 3000)]])).subscribe((b) => second.push(b));
    expect(first).toEqual([[g('x', 1, 2000)]]);
    expect(second).toEqual([]);
  });
});

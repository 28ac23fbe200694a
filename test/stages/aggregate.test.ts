import { describe, expect, it } from 'vitest';
import { aggregateStage } from '../../stages/aggregate.js';
import { counter, event, gauge, hist, runStage } from '../helpers/samples.js';

describe('aggregate stage', () => {
  it('sums the latest value of each member per group, across batches', () => {
    const out = runStage(aggregateStage, { by: ['pid'] }, [
      [gauge('runq', 3, 1000, { pid: '1', p: '0' }), gauge('runq', 4, 1000, { pid: '1', p: '1' })],
      [gauge('runq', 1, 2000, { pid: '1', p: '0' })],
    ]);
    expect(out).toEqual([[gauge('runq', 7, 1000, { pid: '1' })], [gauge('runq', 5, 2000, { pid: '1' })]]);
  });

  it('supports min, max, avg, count and without', () => {
    const batch = [gauge('v', 2, 0, { a: '1', b: 'x' }), gauge('v', 6, 0, { a: '2', b: 'x' })];
    const value = (op: string) => (runStage(aggregateStage, { op, without: ['a'] }, [batch])[0]![0] as { value: number }).value;
    expect([value('min'), value('max'), value('avg'), value('count'), value('sum')]).toEqual([2, 6, 4, 2, 8]);
    expect(runStage(aggregateStage, { without: ['a'] }, [batch])[0]![0]!.labels).toEqual({ b: 'x' });
  });

  it('keeps a summed counter a counter, and other results gauges', () => {
    const out = runStage(aggregateStage, {}, [[counter('c', 1, 0, { a: '1' }), counter('c', 2, 0, { a: '2' })]]);
    expect(out).toEqual([[counter('c', 3, 0)]]);
    expect(runStage(aggregateStage, { op: 'max' }, [[counter('c', 1, 0)]])[0]![0]!.kind).toBe('gauge');
  });

  it('sums histograms with equal bounds bucket-wise', () => {
    const out = runStage(aggregateStage, {}, [[hist('h', [1], [1, 2], 5, 0, { p: '0' }), hist('h', [1], [3, 0], 1, 0, { p: '1' })]]);
    expect(out).toEqual([[hist('h', [1], [4, 2], 6, 0)]]);
  });

  it('drops members that went stale', () => {
    const out = runStage(aggregateStage, { stale_after: '10s' }, [[gauge('v', 5, 0, { a: '1' })], [gauge('v', 1, 20_000, { a: '2' })]]);
    expect(out[1]).toEqual([gauge('v', 1, 20_000)]);
  });

  it('passes events through and refuses max over histograms in the graph', () => {
    const e = event('e', 1, 0);
    expect(runStage(aggregateStage, {}, [[e]])).toEqual([[e]]);
    expect(() => aggregateStage.outputKinds({ type: 'aggregate', op: 'max' }, new Set(['histogram']))).toThrow(/only op: sum/);
  });
});

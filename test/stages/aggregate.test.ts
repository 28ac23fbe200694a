import { describe, expect, it } from 'vitest';
import { aggregateStage } from '../../stages/aggregate.js';
import { deltaStage } from '../../stages/delta.js';
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

  it('a summed counter stays monotonic when a member leaves: what it counted stays in the sum', () => {
    const out = runStage(aggregateStage, { stale_after: '10s' }, [
      [counter('c', 10, 0, { pid: '1' }), counter('c', 5, 0, { pid: '2' })],
      [counter('c', 7, 20_000, { pid: '2' })], // pid 1 exited: stale now
      [counter('c', 9, 30_000, { pid: '2' })],
    ]);
    expect(out.map((b) => (b[0] as { value: number }).value)).toEqual([15, 17, 19]);
  });

  it('a member that restarts its counter keeps what it had counted in the sum', () => {
    const out = runStage(aggregateStage, {}, [[counter('c', 10, 0, { pid: '1' }), counter('c', 5, 0, { pid: '2' })], [counter('c', 2, 1000, { pid: '1' })]]);
    expect(out.map((b) => (b[0] as { value: number }).value)).toEqual([15, 17]);
  });

  it('summed histograms keep a departed member too', () => {
    const out = runStage(aggregateStage, { stale_after: '10s' }, [[hist('h', [1], [1, 2], 5, 0, { p: '0' }), hist('h', [1], [3, 0], 1, 0, { p: '1' })], [hist('h', [1], [4, 1], 3, 20_000, { p: '1' })]]);
    expect(out[1]).toEqual([hist('h', [1], [5, 3], 8, 20_000)]);
  });

  it('then through delta: a member leaving is no reset, the increase is what was counted', () => {
    const batches = [
      [counter('c', 10, 0, { pid: '1' }), counter('c', 5, 0, { pid: '2' })],
      [counter('c', 12, 5000, { pid: '1' }), counter('c', 6, 5000, { pid: '2' })],
      [counter('c', 8, 20_000, { pid: '2' })],
    ];
    const summed = runStage(aggregateStage, { stale_after: '10s' }, batches);
    const deltas = runStage(deltaStage, {}, summed);
    // +3 then +2 (pid 2 counted 2 more); before: the sum fell 18 → 8 and delta reported 8.
    expect(deltas.flat().map((s) => (s as { value: number }).value)).toEqual([3, 2]);
  });

  it('takes 200k members in one batch (no spread of large arrays into calls)', () => {
    const many = Array.from({ length: 200_000 }, (_, i) => gauge('v', i, i, { i: String(i) }));
    // A RangeError would now cost the batch (contained per batch), so the values are what tell.
    const result = (op: string) => runStage(aggregateStage, { op }, [many])[0];
    expect(result('max')).toEqual([gauge('v', 199_999, 199_999)]);
    expect(result('min')).toEqual([gauge('v', 0, 199_999)]);
    expect(result('sum')).toEqual([gauge('v', (199_999 * 200_000) / 2, 199_999)]);
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

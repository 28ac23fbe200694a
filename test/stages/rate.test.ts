import { describe, expect, it } from 'vitest';
import { rateStage } from '../../stages/rate.js';
import { counter, gauge, runStage, checkContext } from '../helpers/samples.js';

describe('rate stage', () => {
  it('is the increase over the window per second', () => {
    const out = runStage(rateStage, { window: '10s' }, [[counter('c', 0, 0)], [counter('c', 10, 5000)], [counter('c', 30, 10_000)]]);
    expect(out).toEqual([[gauge('c_rate', 2, 5000)], [gauge('c_rate', 3, 10_000)]]);
  });

  it('slides: points older than the window stop counting', () => {
    const out = runStage(rateStage, { window: '10s' }, [
      [counter('c', 0, 0)],
      [counter('c', 100, 10_000)],
      [counter('c', 110, 20_000)],
      [counter('c', 120, 30_000)],
    ]);
    expect(out.map((b) => (b[0] as { value: number }).value)).toEqual([10, 1, 1]);
  });

  it('folds a counter reset into the increase', () => {
    const out = runStage(rateStage, { window: '1m' }, [[counter('c', 50, 0)], [counter('c', 60, 10_000)], [counter('c', 5, 20_000)]]);
    // 10 before the reset, 5 after it: 15 over 20 s.
    expect(out[1]).toEqual([gauge('c_rate', 0.75, 20_000)]);
  });

  it('passes non-counters through, and the counter too with keep_input', () => {
    const g = gauge('temp', 1, 0);
    expect(runStage(rateStage, {}, [[g]])).toEqual([[g]]);
    const c = counter('c', 1, 0);
    expect(runStage(rateStage, { keep_input: true }, [[c]])).toEqual([[c]]);
  });

  it('ignores NaN and out-of-order samples', () => {
    const out = runStage(rateStage, { window: '1m' }, [[counter('c', 0, 0)], [counter('c', NaN, 1000)], [counter('c', 5, 2000)], [counter('c', 7, 1500)]]);
    expect(out).toEqual([[gauge('c_rate', 2.5, 2000)]]);
  });

  it('refuses a zero window at validation', () => {
    expect(rateStage.check!({ type: 'rate', window: '0s' }, checkContext())).toEqual([{ path: ['window'], message: 'must be longer than 0s' }]);
  });
});

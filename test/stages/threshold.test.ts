import { describe, expect, it } from 'vitest';
import { thresholdStage } from '../../stages/threshold.js';
import { event, gauge, marbles, runStage, checkContext } from '../helpers/samples.js';

const cfg = { name: 'q_high', above: 10, clear: 5, for: '2s', pass_through: false };
const fired = (v: number, ts: number, state: string) => event('q_high_transitions', v, ts, { state });

describe('threshold stage', () => {
  it('fires only after the condition held for `for`, and emits a 0/1 gauge every sample', () => {
    marbles(
      thresholdStage,
      cfg,
      {
        marble: 'a-b-c-d|',
        values: { a: [gauge('q', 12, 0)], b: [gauge('q', 13, 1000)], c: [gauge('q', 14, 2000)], d: [gauge('q', 15, 3000)] },
      },
      {
        marble: 'a-b-c-d|',
        values: {
          a: [gauge('q_high', 0, 0)],
          b: [gauge('q_high', 0, 1000)],
          c: [fired(14, 2000, 'firing'), gauge('q_high', 1, 2000)],
          d: [gauge('q_high', 1, 3000)],
        },
      },
    );
  });

  it('resets the pending timer when the value dips before `for` elapsed', () => {
    const out = runStage(thresholdStage, cfg, [[gauge('q', 12, 0)], [gauge('q', 3, 1000)], [gauge('q', 12, 2000)], [gauge('q', 12, 3000)]]);
    expect(out.flat().filter((s) => s.kind === 'event')).toEqual([]);
  });

  it('uses hysteresis: stays firing between clear and threshold, resolves at clear', () => {
    const out = runStage(thresholdStage, { ...cfg, for: '0s' }, [[gauge('q', 11, 0)], [gauge('q', 7, 1000)], [gauge('q', 5, 2000)], [gauge('q', 6, 3000)]]);
    expect(out.map((b) => b.map((s) => `${s.name}:${s.kind === 'histogram' ? '' : s.value}${s.labels.state ? ':' + s.labels.state : ''}`))).toEqual([
      ['q_high_transitions:11:firing', 'q_high:1'],
      ['q_high:1'],
      ['q_high_transitions:5:resolved', 'q_high:0'],
      ['q_high:0'],
    ]);
  });

  it('watches `below` the same way', () => {
    const out = runStage(thresholdStage, { name: 'idle', below: 1, pass_through: false }, [[gauge('m', 0, 0)]]);
    expect(out[0]).toEqual([event('idle_transitions', 0, 0, { state: 'firing' }), gauge('idle', 1, 0)]);
  });

  it('keeps series apart and passes watched samples through by default', () => {
    const a = gauge('q', 20, 0, { p: '0' });
    const b = gauge('q', 1, 0, { p: '1' });
    const out = runStage(thresholdStage, { name: 'q_high', above: 10 }, [[a, b]]);
    expect(out[0]).toEqual([a, event('q_high_transitions', 20, 0, { p: '0', state: 'firing' }), gauge('q_high', 1, 0, { p: '0' }), b, gauge('q_high', 0, 0, { p: '1' })]);
  });

  it('ignores NaN and samples from the past', () => {
    const out = runStage(thresholdStage, { ...cfg, for: '0s' }, [[gauge('q', 20, 1000)], [gauge('q', NaN, 2000)], [gauge('q', 0, 500)]]);
    expect(out).toEqual([[fired(20, 1000, 'firing'), gauge('q_high', 1, 1000)]]);
  });

  it('refuses configs that cannot work', () => {
    expect(thresholdStage.check!({ type: 'threshold', name: 'x' }, checkContext())[0]!.message).toMatch(/exactly one of `above` or `below`/);
    expect(thresholdStage.check!({ type: 'threshold', name: 'x', above: 5, clear: 6 }, checkContext())[0]).toMatchObject({ path: ['clear'] });
  });
});

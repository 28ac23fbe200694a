import { describe, expect, it } from 'vitest';
import { histogramStage } from '../../stages/histogram.js';
import { bucketBounds } from '../../stages/lib/buckets.js';
import { counter, event, gauge, hist, marbles, runStage, checkContext } from '../helpers/samples.js';

describe('histogram stage', () => {
  it('observes values into cumulative per-series histograms, one snapshot per batch', () => {
    marbles(
      histogramStage,
      { buckets: { explicit: [1, 5] } },
      { marble: 'a--b|', values: { a: [event('lat', 0.5, 10), event('lat', 3, 20)], b: [event('lat', 9, 30)] } },
      {
        marble: 'a--b|',
        values: { a: [hist('lat', [1, 5], [1, 1, 0], 3.5, 20)], b: [hist('lat', [1, 5], [1, 1, 1], 12.5, 30)] },
      },
    );
  });

  it('puts a value equal to a bound into that bucket (le semantics)', () => {
    const out = runStage(histogramStage, { buckets: { explicit: [1, 5] } }, [[gauge('v', 1, 0), gauge('v', 5, 0), gauge('v', 5.0001, 0)]]);
    expect(out[0]![0]).toMatchObject({ counts: [1, 1, 1] });
  });

  it('builds linear and exponential bounds like the Prometheus clients', () => {
    expect(bucketBounds({ linear: { start: 0, width: 10, count: 3 } })).toEqual([0, 10, 20]);
    expect(bucketBounds({ exponential: { start: 1, factor: 2, count: 4 } })).toEqual([1, 2, 4, 8]);
  });

  it('re-buckets an incoming histogram without losing counts or inflating le queries', () => {
    const src = hist('h', [1, 2, 3, 4], [5, 1, 2, 3, 4], 40, 100);
    const out = runStage(histogramStage, { buckets: { explicit: [2, 4] } }, [[src]]);
    expect(out).toEqual([[{ ...src, bounds: [2, 4], counts: [6, 5, 4] }]]);
  });

  it('applies scale, renames and passes unmatched samples through', () => {
    const c = counter('other', 1, 0);
    const out = runStage(histogramStage, { buckets: { explicit: [1] }, scale: 1e-9, name: 'pause_seconds', match: { name: 'pause_ns' } }, [[gauge('pause_ns', 5e8, 7), c]]);
    expect(out).toEqual([[c, hist('pause_seconds', [1], [1, 0], 0.5, 7)]]);
  });

  it('forgets a series that observed nothing for stale_after, so its state is bounded', () => {
    const out = runStage(histogramStage, { buckets: { explicit: [1] }, stale_after: '10s' }, [
      [gauge('lat', 0.5, 0, { pid: '1' })],
      [gauge('lat', 0.5, 20_000, { pid: '2' })], // pid 1 has been silent 20 s: forgotten
      [gauge('lat', 0.5, 21_000, { pid: '1' })], // back: counted from zero, not from its old state
    ]);
    expect(out[2]).toEqual([hist('lat', [1], [1, 0], 0.5, 21_000, { pid: '1' })]);
  });

  it('takes 200k series in one batch', () => {
    const many = Array.from({ length: 200_000 }, (_, i) => gauge('lat', 0.5, 0, { i: String(i) }));
    expect(runStage(histogramStage, { buckets: { explicit: [1] } }, [many])[0]).toHaveLength(200_000);
  });

  it('skips NaN values', () => {
    const out = runStage(histogramStage, { buckets: { explicit: [1] } }, [[gauge('v', NaN, 0)]]);
    expect(out).toEqual([]);
  });

  it('refuses unsorted explicit bounds at validation', () => {
    expect(histogramStage.check!({ type: 'histogram', buckets: { explicit: [1, 3, 2] } }, checkContext())[0]!.message).toMatch(/strictly increasing: 3 is followed by 2/);
  });
});

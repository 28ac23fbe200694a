import { describe, expect, it } from 'vitest';
import type { Sample } from '../engine/model/sample.js';
import { limitSeries } from '../engine/runtime/series-limit.js';
import { endSeriesOf } from '../probes/lib/process-probe.js';
import { SeriesStore } from '../sinks/lib/exposition.js';
import { encodeWriteRequest, decodeWriteRequest } from '../sinks/lib/remote-write-encoder.js';
import { isStaleNaN, toWireSamples } from '../sinks/lib/remote-write-samples.js';
import { aggregateStage } from '../stages/aggregate.js';
import { deltaStage } from '../stages/delta.js';
import { histogramStage } from '../stages/histogram.js';
import { rateStage } from '../stages/rate.js';
import { thresholdStage } from '../stages/threshold.js';
import { from, lastValueFrom, toArray } from 'rxjs';
import { counter, gauge, hist, runStage } from './helpers/samples.js';

const end = <S extends Sample>(s: S): S => ({ ...s, ended: true });
const p1 = { pid: '1' };
const p2 = { pid: '2' };

describe('a series ends when its process exits', () => {
  it('the probe runtime marks the final read of exited pids, by their pid label only', () => {
    const batch = [counter('a_total', 1, 10, p1), counter('a_total', 2, 10, p2), gauge('shared', 3, 10, { exe: '/x' })];
    const out = endSeriesOf(batch, new Set(['1']));
    expect(out.map((s) => s.ended ?? false)).toEqual([true, false, false]);
    expect(batch[0]!.ended).toBeUndefined(); // samples are immutable: a marked copy goes out
  });

  it('the exposition drops an ended series at once; the others stay', () => {
    const store = new SeriesStore(300_000);
    store.update([gauge('g', 1, 10, p1), gauge('g', 2, 10, p2), gauge('solo', 5, 10, p1)]);
    store.update([end(gauge('g', 1, 20, p1)), end(gauge('solo', 5, 20, p1))]);
    const text = store.render('text');
    expect(text).toContain('g{pid="2"} 2');
    expect(text).not.toContain('pid="1"');
    expect(text).not.toContain('solo'); // an empty family goes too
    expect(store.seriesCount).toBe(1);
  });

  it('remote_write sends the last value, then Prometheus\'s staleness marker 1 ms later, for every wire series', () => {
    const wire = toWireSamples(end(hist('h', [1], [2, 1], 4, 1000, p1)));
    const stale = wire.filter((w) => isStaleNaN(w.value));
    expect(wire).toHaveLength(8); // bucket le=1, le=+Inf, _sum, _count; then their markers
    expect(stale.map((w) => [w.labels.find(([k]) => k === '__name__')![1], w.timestamp])).toEqual([
      ['h_bucket', 1001],
      ['h_bucket', 1001],
      ['h_sum', 1001],
      ['h_count', 1001],
    ]);
    // The marker's payload survives protobuf: a plain NaN would be a value, not an end.
    const decoded = decodeWriteRequest(encodeWriteRequest(toWireSamples(end(gauge('g', 3, 1000, p1)))));
    expect(decoded.timeseries[0]!.samples.map((s) => s.timestamp)).toEqual([1000, 1001]);
    expect(isStaleNaN(decoded.timeseries[0]!.samples[1]!.value)).toBe(true);
    expect(isStaleNaN(NaN)).toBe(false);
  });

  it('delta: the last delta carries the end and the series\' state goes (a new process with the pid starts afresh)', () => {
    const out = runStage(deltaStage, {}, [[counter('c_total', 10, 1000, p1)], [end(counter('c_total', 15, 2000, p1))], [counter('c_total', 3, 3000, p1)]]);
    expect(out).toEqual([[end(gauge('c_total', 5, 2000, p1))]]);
  });

  it('rate: the last rate carries the end', () => {
    const out = runStage(rateStage, { window: '1m' }, [[counter('c_total', 0, 0, p1)], [end(counter('c_total', 10, 1000, p1))]]);
    expect(out.flat().map((s) => [s.name, s.ended])).toEqual([['c_rate', true]]);
  });

  it('threshold: a firing series that ends resolves, and its gauge ends', () => {
    const out = runStage(thresholdStage, { name: 'hot', above: 5, pass_through: false }, [[gauge('t', 9, 1000, p1)], [end(gauge('t', 9, 2000, p1))]]).flat();
    expect(out.map((s) => [s.kind, s.name, s.labels.state ?? '', s.ended ?? false])).toEqual([
      ['event', 'hot_transitions', 'firing', false],
      ['gauge', 'hot', '', false],
      ['event', 'hot_transitions', 'resolved', false],
      ['gauge', 'hot', '', true],
    ]);
  });

  it('histogram: values of an ended series end its histogram, which then starts afresh', () => {
    const out = runStage(histogramStage, { buckets: [1, 10] }, [[gauge('v', 2, 1000, p1)], [end(gauge('v', 3, 2000, p1))], [gauge('v', 4, 3000, p1)]]).flat();
    expect(out.map((s) => [s.kind === 'histogram' ? s.count : -1, s.ended ?? false])).toEqual([
      [1, false],
      [2, true],
      [1, false],
    ]);
  });

  it('aggregate: a member that ends leaves its group; a gauge group ends with its last member, a summed counter keeps counting', () => {
    const max = runStage(aggregateStage, { op: 'max' }, [[gauge('g', 1, 1000, p1), gauge('g', 2, 1000, p2)], [end(gauge('g', 5, 2000, p1))], [end(gauge('g', 3, 3000, p2))]]);
    expect(max.map((b) => b.map((s) => [s.kind !== 'histogram' && s.value, s.ended ?? false]))).toEqual([[[2, false]], [[5, false]], [[3, true]]]);
    const sum = runStage(aggregateStage, { op: 'sum' }, [[counter('c_total', 4, 1000, p1), counter('c_total', 6, 1000, p2)], [end(counter('c_total', 5, 2000, p1))], [counter('c_total', 7, 3000, p2)]]);
    // p1 counted 5 before it ended: the sum keeps it (12 = 5 + 7), never falls, never ends.
    expect(sum.map((b) => b.map((s) => [s.kind !== 'histogram' && s.value, s.ended ?? false]))).toEqual([[[10, false]], [[11, false]], [[12, false]]]);
  });

  it('the series limit frees an ended series\' slot at once', async () => {
    const dropped: string[] = [];
    const out = await lastValueFrom(
      from([[gauge('a', 1, 1, p1)], [end(gauge('a', 1, 2, p1))], [gauge('b', 1, 3, p2)]]).pipe(limitSeries({ maxSeries: 1, staleAfterMs: 1e9, onOverflow: (n) => void dropped.push(n) }), toArray()),
    );
    expect(out.flat().map((s) => s.name)).toEqual(['a', 'a', 'b']);
    expect(dropped).toEqual([]);
  });

  it('the series limit drops and counts samples past max_series, and frees the slot of a series silent for staleAfterMs', async () => {
    const dropped: [string, number][] = [];
    const limit = limitSeries({ maxSeries: 2, staleAfterMs: 1000, onOverflow: (name, n) => void dropped.push([name, n]) });
    const out = await lastValueFrom(
      from([
        [gauge('a', 1, 0, p1), gauge('b', 1, 0, p1), gauge('c', 1, 0, p1)],
        [gauge('a', 2, 600, p1)],
        // b has been silent for 1.2 s: its slot frees after this batch, not during it.
        [gauge('a', 3, 1200, p1), gauge('c', 2, 1200, p1)],
        [gauge('c', 3, 1300, p1)],
      ]).pipe(limit, toArray()),
    );
    expect(out.map((b) => b.map((s) => s.name))).toEqual([['a', 'b'], ['a'], ['a'], ['c']]);
    expect(dropped).toEqual([
      ['c', 1],
      ['c', 1],
    ]);
  });

  it('the series limit keeps counting right when a probe repeats its batches (found by position): an end frees its slot, a newcomer takes it', async () => {
    const dropped: string[] = [];
    const a = gauge('a', 1, 0, p1);
    const b = gauge('b', 1, 0, p1);
    const c = gauge('c', 1, 0, p2);
    const out = await lastValueFrom(
      from([[a, b], [a, b], [a, end(b)], [a, c], [a, b], [a, c]]).pipe(limitSeries({ maxSeries: 2, staleAfterMs: 1e9, onOverflow: (n) => void dropped.push(n) }), toArray()),
    );
    expect(out.map((x) => x.map((s) => s.name))).toEqual([['a', 'b'], ['a', 'b'], ['a', 'b'], ['a', 'c'], ['a'], ['a', 'c']]);
    expect(dropped).toEqual(['b']);
    // An ended series back at its old place holds a slot again.
    const again = await lastValueFrom(from([[a, b], [a, end(b)], [a, b], [c]]).pipe(limitSeries({ maxSeries: 2, staleAfterMs: 1e9, onOverflow: (n) => void dropped.push(n) }), toArray()));
    expect(again.map((x) => x.map((s) => s.name))).toEqual([['a', 'b'], ['a', 'b'], ['a', 'b']]);
    expect(dropped).toEqual(['b', 'c']);
  });
});

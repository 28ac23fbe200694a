import { describe, expect, it } from 'vitest';
import { filterStage } from '../../stages/filter.js';
import { relabelStage } from '../../stages/relabel.js';
import { counter, event, gauge, runStage } from '../helpers/samples.js';

describe('filter stage', () => {
  const batch = [gauge('go_sched_x', 1, 0, { pid: '1' }), counter('go_gc_total', 2, 0, { pid: '2' }), event('hit', 3, 0), gauge('nan', NaN, 0)];

  it('keeps by anchored name regex', () => {
    expect(runStage(filterStage, { keep: { name: 'go_.*' } }, [batch])).toEqual([[batch[0], batch[1]]]);
    expect(runStage(filterStage, { keep: { name: 'go' } }, [batch])).toEqual([]);
  });

  it('drops by kind and by label, "" matching a missing label', () => {
    expect(runStage(filterStage, { drop: { kind: ['event', 'gauge'] } }, [batch])).toEqual([[batch[1]]]);
    expect(runStage(filterStage, { keep: { labels: { pid: '' } } }, [batch])).toEqual([[batch[2], batch[3]]]);
  });

  it('drops non-finite values on request', () => {
    expect(runStage(filterStage, { drop_non_finite: true }, [batch])).toEqual([batch.slice(0, 3)]);
  });

  it('narrows the kinds it declares to the graph', () => {
    expect([...filterStage.outputKinds({ type: 'filter', keep: { kind: ['event'] } }, new Set(['gauge', 'event']))]).toEqual(['event']);
  });
});

describe('relabel stage', () => {
  const s = gauge('x', 1, 0, { pid: '42', comm: 'api', exe: '/usr/bin/api' });

  it('applies rules in order', () => {
    const out = runStage(
      relabelStage,
      {
        rules: [
          { set: { node: 'n1' } },
          { rename: { comm: 'process' } },
          { drop: ['exe'] },
          { replace: { source: 'process', regex: '(a)pi', target: 'service', replacement: 'svc-$1' } },
          { name_prefix: 'app_' },
        ],
      },
      [[s]],
    );
    expect(out).toEqual([[gauge('app_x', 1, 0, { pid: '42', process: 'api', node: 'n1', service: 'svc-a' })]]);
  });

  it('keeps only listed labels and drops series by matcher', () => {
    const other = gauge('y', 2, 0, { pid: '7' });
    const out = runStage(relabelStage, { rules: [{ keep_only: ['pid'] }, { drop_series: { labels: { pid: '7' } } }] }, [[s, other]]);
    expect(out).toEqual([[gauge('x', 1, 0, { pid: '42' })]]);
  });

  it('removes a label whose replacement is empty, and leaves non-matching values alone', () => {
    const out = runStage(relabelStage, { rules: [{ replace: { source: 'comm', regex: 'api', target: 'comm', replacement: '' } }, { replace: { source: 'pid', regex: 'x', target: 'pid', replacement: 'y' } }] }, [[s]]);
    expect(out[0]![0]!.labels).toEqual({ pid: '42', exe: '/usr/bin/api' });
  });

  it('hands out one labels object per series from batch to batch, as probes do', () => {
    // Later stages key series by labels object; a new object per sample would defeat that.
    const a = gauge('x', 1, 0, { pid: '1', comm: 'api' });
    const b = gauge('x', 2, 0, { pid: '2', comm: 'api' });
    const rules = [{ set: { node: 'n1' } }, { drop: ['comm'] }, { rename: { pid: 'process_id' } }, { replace: { source: 'process_id', regex: '(.*)', target: 'p', replacement: 'p$1' } }, { name_prefix: 'app_' }];
    const out = runStage(relabelStage, { rules }, [[a, b], [{ ...a, timestamp: 1000 }, { ...b, timestamp: 1000 }]]);
    expect(out[0]![0]!.labels).toEqual({ node: 'n1', process_id: '1', p: 'p1' });
    expect(out[1]![0]!.labels).toBe(out[0]![0]!.labels);
    expect(out[1]![1]!.labels).toBe(out[0]![1]!.labels);
    expect(out[0]![0]!.labels).not.toBe(out[0]![1]!.labels);
    expect(out[1]![0]!.name).toBe('app_x');
  });

  it('drops a series by what earlier rules made of it', () => {
    const out = runStage(relabelStage, { rules: [{ rename: { comm: 'service' } }, { drop_series: { labels: { service: 'api' } } }] }, [[s, gauge('x', 1, 0, { comm: 'db' })]]);
    expect(out).toEqual([[gauge('x', 1, 0, { service: 'db' })]]);
  });
});

import { spawnSync } from 'node:child_process';
import { requireTool } from '../helpers/require-tool.js';
import { describe, expect, it } from 'vitest';
import { SeriesStore } from '../../sinks/lib/exposition.js';
import { counter, gauge, hist } from '../helpers/samples.js';

const batch = [
  counter('go_gc_cycles_total', 42, 1000, { pid: '7', exe: '/srv/a b"c\\d' }),
  gauge('go_sched_p_local_queue_length', 3, 1000, { p: '0', empty: '' }),
  { ...hist('go_gc_pause_seconds', [0.0001, 0.001], [5, 2, 1], 0.0042, 1000, { pid: '7' }), help: 'Stop-the-world pauses.\nOne per STW.' },
  hist('go_gc_duration_seconds', [], [4], 0.002, 1000, { pid: '7' }),
];

describe('exposition', () => {
  it('writes the text format: HELP/TYPE per family, escaped labels, cumulative buckets, no empty labels, a bound-less histogram as a summary', () => {
    const s = new SeriesStore(60_000);
    s.update(batch);
    expect(s.render('text')).toBe(
      [
        '# HELP go_gc_cycles_total counter go_gc_cycles_total from a probeflow pipeline',
        '# TYPE go_gc_cycles_total counter',
        'go_gc_cycles_total{exe="/srv/a b\\"c\\\\d",pid="7"} 42',
        '# HELP go_gc_duration_seconds summary go_gc_duration_seconds from a probeflow pipeline',
        '# TYPE go_gc_duration_seconds summary',
        'go_gc_duration_seconds_sum{pid="7"} 0.002',
        'go_gc_duration_seconds_count{pid="7"} 4',
        '# HELP go_gc_pause_seconds Stop-the-world pauses.\\nOne per STW.',
        '# TYPE go_gc_pause_seconds histogram',
        'go_gc_pause_seconds_bucket{pid="7",le="0.0001"} 5',
        'go_gc_pause_seconds_bucket{pid="7",le="0.001"} 7',
        'go_gc_pause_seconds_bucket{pid="7",le="+Inf"} 8',
        'go_gc_pause_seconds_sum{pid="7"} 0.0042',
        'go_gc_pause_seconds_count{pid="7"} 8',
        '# HELP go_sched_p_local_queue_length gauge go_sched_p_local_queue_length from a probeflow pipeline',
        '# TYPE go_sched_p_local_queue_length gauge',
        'go_sched_p_local_queue_length{p="0"} 3',
        '',
      ].join('\n'),
    );
  });

  it('writes OpenMetrics: counter families without _total, samples with it', () => {
    const s = new SeriesStore(60_000);
    s.update([counter('x_total', 1, 0), counter('y', 2, 0)]);
    const om = s.render('openmetrics');
    expect(om).toContain('# TYPE x counter\nx_total 1\n');
    expect(om).toContain('# TYPE y counter\ny_total 2\n');
  });

  it('drops series after the TTL and keeps a name to the kind it was first seen with', () => {
    const s = new SeriesStore(1000);
    s.update([gauge('a', 1, 0, { p: '1' })], 0);
    s.update([gauge('a', 2, 0, { p: '2' }), counter('a', 5, 0)], 900);
    expect(s.conflicts).toBe(1);
    s.update([hist('h', [1], [1, 0], 1, 0), hist('h', [], [1], 1, 0, { p: '2' })], 900);
    expect(s.conflicts).toBe(2);
    s.expire(1500);
    expect(s.render('text')).toContain('a{p="2"} 2');
    expect(s.render('text')).not.toContain('p="1"');
    s.expire(3000);
    expect(s.render('text')).toBe('');
  });

  it('expires series on update too, so an endpoint nobody scrapes stays bounded', () => {
    const s = new SeriesStore(4000);
    const t0 = Date.now();
    for (let pid = 0; pid < 100; pid++) s.update([gauge('g', 1, t0, { pid: String(pid) })], t0);
    expect(s.seriesCount).toBe(100);
    // Later, only one process still reports; no scrape in between.
    s.update([gauge('g', 1, t0 + 5000, { pid: 'new' })], t0 + 5000);
    expect(s.seriesCount).toBe(1);
  });

  it('passes promtool check metrics', () => {
    const s = new SeriesStore(60_000);
    s.update(batch);
    requireTool('promtool');
    const r = spawnSync('promtool', ['check', 'metrics'], { input: s.render('text'), encoding: 'utf8' });
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
  });
});

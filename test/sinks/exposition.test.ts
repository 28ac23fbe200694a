import { spawnSync } from 'node:child_process';
import { requireTool } from '../helpers/require-tool.js';
import { describe, expect, it } from 'vitest';
import { exposition, SeriesStore } from '../../sinks/lib/exposition.js';
import { textBinding } from '../../sinks/lib/text-blocks.js';
import type { Sample } from '../../engine/model/sample.js';
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

  it('prints numbers as JavaScript does (the renderer is native): shortest digits, the same exponent forms', () => {
    const { formatNumber } = textBinding();
    const edges = [0, -0, 1, -1, 0.1, 0.0042, 1e-6, 1e-7, -1.5e-7, 1e20, 1e21, 2 ** 53, 2 ** 53 + 2, 2 ** 60, 123456789012345680000, 5e-324, Number.MAX_VALUE, 99.99];
    const spelled = (v: number) => (Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v));
    for (const v of [...edges, NaN, Infinity, -Infinity]) expect(formatNumber(v)).toBe(spelled(v));
    // Any bit pattern, and values spread over the magnitudes samples have.
    const bits = new Float64Array(1);
    const words = new Uint32Array(bits.buffer);
    const bad: string[] = [];
    for (let i = 0; i < 200_000; i++) {
      words[0] = (Math.random() * 2 ** 32) >>> 0;
      words[1] = (Math.random() * 2 ** 32) >>> 0;
      const v = i % 2 ? bits[0]! : (Math.random() - 0.3) * 10 ** (Math.floor(Math.random() * 50) - 25);
      if (formatNumber(v) !== spelled(v)) bad.push(`${formatNumber(v)} vs ${spelled(v)}`);
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });

  it('renders after any churn what a fresh store holding the same series renders, and holds no text for series that went', () => {
    // Series come, change, end and come back; histograms change bounds (another length, or an
    // equal copy); help arrives late; renders of both formats fall in between. Slots and text
    // blocks are reused all along: a reused one printed under the wrong series shows here.
    const boundsA = [0.001, 0.01, 0.1];
    const boundsB = [0.5, 1];
    // As many bounds as A's, other values: a series moving to them may move to other slots.
    const boundsC = [0.002, 0.02, 0.2];
    // mulberry32: the same sequence every run, and its low bits are as random as its high ones.
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return (((t ^ (t >>> 14)) >>> 0) % n);
    };
    // Frozen counts arrays handed out again and again, as the go_runtime probe does (the store
    // skips their buckets when it holds them already), by bucket count.
    const shared = new Map([4, 3].map((n) => [n, Array.from({ length: 3 }, () => Object.freeze(Array.from({ length: n }, () => rand(4))))]));
    const store = new SeriesStore(Infinity);
    // What the store should hold: per name, the latest sample per series, in the order series came.
    const model = new Map<string, Map<string, Sample>>();
    const keyOf = (s: Sample) => JSON.stringify(Object.entries(s.labels).sort());
    let helpSeen = false;
    /** A store fed only the model's series renders what the churned one should. */
    const fresh = () => {
      const f = new SeriesStore(Infinity);
      for (const series of model.values()) f.update([...series.values()], 400);
      // Help is a family's, from the first sample that had it: the fresh store gets it at once.
      if (helpSeen) f.update([{ ...gauge('g', 0, 400, { pid: 'none' }), help: 'late help', ended: true }], 400);
      return f;
    };
    let previous: Sample[] = [];
    for (let round = 0; round < 400; round++) {
      const batch: Sample[] = [];
      // Some batches only end series: a render right after must not show them.
      const ending = rand(5) === 0;
      // Half the batches repeat the last one's series in its order, with its labels objects, as
      // a probe's reads do (the store finds them by position then); some of them end or change kind.
      const again = previous.length === 12 && rand(2) === 0;
      for (let i = 0; i < 12; i++) {
        const labels = again ? previous[i]!.labels : rand(5) === 0 ? {} : { pid: String(rand(6)), ...(rand(2) ? { reason: ['chan receive', 'select', 'a"b\\c'][rand(3)]! } : {}) };
        const value = rand(3) === 0 ? rand(1000) / 7 : rand(100);
        const which = again && rand(8) !== 0 ? ['counter', 'gauge', 'histogram', 'summary'].indexOf(previous[i]!.kind === 'histogram' ? (previous[i]!.name === 'h' ? 'histogram' : 'summary') : previous[i]!.kind) : rand(4);
        let s: Sample =
          which === 0 ? counter('c_total', value, round, labels)
          : which === 1 ? gauge('g', value, round, labels)
          : which === 2 ? hist('h', rand(3) === 0 ? [...boundsB] : rand(4) === 0 ? boundsC : rand(2) ? boundsA : [...boundsA], [], 0, round, labels)
          : hist('sum_only', [], [rand(9)], value, round, labels);
        if (s.kind === 'histogram' && s.bounds.length) s = { ...s, counts: rand(2) ? shared.get(s.bounds.length + 1)![rand(3)]! : s.bounds.map(() => rand(4)).concat(rand(2)), sum: value };
        if (s.kind === 'histogram') s = { ...s, count: s.counts.reduce((a, b) => a + b, 0) };
        if (round > 200 && s.name === 'g') {
          s = { ...s, help: 'late help' };
          helpSeen = true;
        }
        if (ending || rand(4) === 0) s = { ...s, ended: true };
        batch.push(s);
        const series = model.get(s.name) ?? new Map<string, Sample>();
        model.set(s.name, series);
        if (s.ended) series.delete(keyOf(s));
        else series.set(keyOf(s), s);
        if (series.size === 0) model.delete(s.name);
      }
      store.update(batch, round);
      previous = batch;
      if (ending || rand(3) === 0) {
        const format = rand(2) ? 'text' : 'openmetrics';
        expect(store.render(format), `round ${round}`).toBe(fresh().render(format));
      }
    }
    const last = fresh();
    for (const format of ['text', 'openmetrics'] as const) expect(store.render(format)).toBe(last.render(format));
    expect(store.seriesCount).toBe(last.seriesCount);
    // Suffixes (` `, `} `, one per le) are kept for good; everything else is per live series.
    const suffixes = 2 + 2 * (boundsA.length + 1 + boundsB.length + 1 + boundsC.length + 1);
    expect(store.textBlocks).toBeLessThanOrEqual(last.textBlocks + suffixes);

    for (const series of model.values()) store.update([...series.values()].map((s) => ({ ...s, ended: true as const })), 500);
    expect(store.render('text')).toBe('');
    expect(store.textBlocks).toBeLessThanOrEqual(suffixes);
  });

  it('renders into a buffer it reuses once released, never into one a scrape still holds, and grows it when series come', () => {
    const s = new SeriesStore(Infinity);
    const many = (n: number, value: number) => Array.from({ length: n }, (_, i) => gauge('g', value, 0, { pid: String(i) }));
    s.update(many(10, 1));
    const first = exposition('text', [s]);
    const held = Buffer.from(first.bytes);
    // A second scrape while the first is still being sent: its own buffer, the first untouched.
    s.update(many(10, 2));
    const second = exposition('text', [s]);
    expect(second.bytes.buffer).not.toBe(first.bytes.buffer);
    expect(first.bytes.equals(held)).toBe(true);
    expect(second.bytes.toString()).toContain('g{pid="9"} 2\n');
    first.release();
    second.release();
    const third = exposition('text', [s]);
    expect([first.bytes.buffer, second.bytes.buffer]).toContain(third.bytes.buffer);
    third.release();
    // Far more series than the buffer was made for (~1 MB of text): rendered whole all the same.
    s.update(many(40_000, 3));
    const big = s.render('text');
    expect(big.split('\n')).toHaveLength(40_000 + 3);
    expect(big.endsWith('g{pid="39999"} 3\n')).toBe(true);
  });

  it('writes several stores and a trailer as one body, grown whole when they outgrow the buffer; replace() keeps exactly the series given', () => {
    const pipeline = new SeriesStore(Infinity);
    const own = new SeriesStore(Infinity);
    pipeline.update(Array.from({ length: 5000 }, (_, i) => gauge('g', i, 0, { pid: String(i) })));
    own.replace([counter('probeflow_a_total', 1, 0, { id: 'x' }), counter('probeflow_a_total', 2, 0, { id: 'y' })], 1000);
    const body = exposition('openmetrics', [pipeline, own], '# EOF\n');
    const text = body.bytes.toString();
    body.release();
    expect(text.startsWith('# HELP g ')).toBe(true);
    expect(text.endsWith('probeflow_a_total{id="x"} 1\nprobeflow_a_total{id="y"} 2\n# EOF\n')).toBe(true);
    expect(text).toBe(pipeline.render('openmetrics') + own.render('openmetrics') + '# EOF\n');
    // The next read of the engine's metrics has no y: it goes; x changed.
    own.replace([counter('probeflow_a_total', 3, 0, { id: 'x' })], 2000);
    expect(own.render('text')).toContain('probeflow_a_total{id="x"} 3\n');
    expect(own.render('text')).not.toContain('id="y"');
  });
});

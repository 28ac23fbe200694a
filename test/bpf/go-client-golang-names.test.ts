import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { goRuntimeProbe } from '../../probes/go-runtime.js';
import { waitFor } from '../helpers/cli.js';
import { goToolchains } from '../helpers/go-toolchains.js';
import { settledKernelObjects } from '../helpers/kernel-objects.js';
import { runProbe } from '../helpers/probe-harness.js';
import { SeriesStore } from '../../sinks/lib/exposition.js';
import { buildClientGolangWorkload } from '../helpers/workloads.js';

interface Exposition {
  types: Map<string, string>;
  /** name → the values of its series (one per label set). */
  values: Map<string, { labels: string; value: number }[]>;
}

/** Prometheus text format, as client_golang writes it (enough of it for these series). */
function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const values = new Map<string, { labels: string; value: number }[]>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) types.set(t[1]!, t[2]!);
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) values.set(m[1]!, [...(values.get(m[1]!) ?? []), { labels: m[2] ?? '', value: Number(m[3]) }]);
  }
  return { types, values };
}

/** The type a series name belongs to in the exposition: summaries' _sum/_count are theirs. */
function typeOf(e: Exposition, name: string): string | undefined {
  return e.types.get(name) ?? e.types.get(name.replace(/_(sum|count)$/, ''));
}

describe('names: client_golang — the series an instrumented service exposes about itself', () => {
  afterAll(async () => {
    expect(await settledKernelObjects()).toEqual({ programs: 0, links: 0 });
  });

  // Debian's client_golang (1.14) with the oldest and the newest toolchain here.
  const all = goToolchains();
  const toolchains = all.filter((t, i) => i === 0 || i === all.length - 1);
  for (const tc of toolchains) {
    it(`Go ${tc.version}: same names, kinds and values as client_golang's own /metrics (stripped binary, work before and after attach)`, async () => {
      const bin = buildClientGolangWorkload(tc);
      const child = spawn(bin, [], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, GOMAXPROCS: '2' } });
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      const probe = runProbe(goRuntimeProbe, { target: { pid: child.pid }, names: 'client_golang', interval: '200ms', rescan: '50ms' });
      try {
        await waitFor(() => /^127\.0\.0\.1:\d+$/m.test(out), 10_000, 'the workload to listen');
        const base = `http://${/^(127\.0\.0\.1:\d+)$/m.exec(out)![1]}`;
        await probe.tracking(child.pid!);
        // GC cycles and allocation after attach: the counters' seed and their increments both count.
        expect(await (await fetch(`${base}/work`)).text()).toBe('ok\n');
        const theirs = async () => parseExposition(await (await fetch(`${base}/metrics`)).text());
        const pid = child.pid!;
        let own = await theirs();
        const theirValue = (name: string) => own.values.get(name)?.[0]?.value;
        // Ours as the Prometheus sink exposes them, so both sides are read by the same parser.
        const exposed = () => {
          const store = new SeriesStore(60_000);
          store.update([...probe.latest.values()].filter((s) => s.labels.pid === String(pid)));
          return parseExposition(store.render('text'));
        };
        const ourValue = (name: string) => exposed().values.get(name)?.[0]?.value;
        await waitFor(() => ourValue('go_gc_duration_seconds_count') === theirValue('go_gc_duration_seconds_count'), 5000, `GC cycles ${theirValue('go_gc_duration_seconds_count')} (saw ${ourValue('go_gc_duration_seconds_count')})`);
        own = await theirs();

        // Every name client_golang's default Go collector has that the probe measures: same TYPE.
        const shared = ['go_goroutines', 'go_threads', 'go_memstats_alloc_bytes_total', 'go_memstats_next_gc_bytes', 'go_gc_duration_seconds_sum', 'go_gc_duration_seconds_count', 'go_info'];
        const ours = exposed();
        for (const name of shared) {
          expect(own.values.has(name), `client_golang exposes ${name}`).toBe(true);
          expect(ours.values.has(name), `the probe reports ${name}`).toBe(true);
          expect(typeOf(ours, name), name).toBe(typeOf(own, name));
        }
        expect(typeOf(ours, 'go_gc_duration_seconds_count')).toBe('summary');
        const v = (name: string) => ourValue(name)!;
        const rel = (name: string) => v(name) / theirValue(name)! - 1;
        console.log(
          `go${tc.version}: ` +
            shared
              .filter((n) => n !== 'go_info')
              .map((n) => `${n} ${v(n)} / ${theirValue(n)}`)
              .join(', ') +
            ' (probe / client_golang)',
        );
        expect(v('go_gc_duration_seconds_count')).toBe(theirValue('go_gc_duration_seconds_count'));
        expect(Math.abs(rel('go_gc_duration_seconds_sum'))).toBeLessThan(0.03);
        // Scraping /metrics allocates in the service itself; the rest is the same count.
        expect(Math.abs(rel('go_memstats_alloc_bytes_total'))).toBeLessThan(0.01);
        expect(Math.abs(rel('go_memstats_next_gc_bytes'))).toBeLessThan(0.1);
        // client_golang counts while its scrape runs (the connection's goroutines and Gather's are
        // in its number); ours is read while the service idles: against the service's own idle count.
        const idle = () => Number([...out.matchAll(/^goroutines (\d+)$/gm)].at(-1)?.[1]);
        await waitFor(() => Math.abs(v('go_goroutines') - idle()) <= 2, 5000, `go_goroutines within 2 of the service's own ${idle()} (saw ${v('go_goroutines')})`);
        expect(v('go_goroutines')).toBeLessThanOrEqual(theirValue('go_goroutines')!);
        expect(v('go_threads')).toBe(theirValue('go_threads'));
        expect(probe.sample('go_info', pid)?.labels.version).toBe(/version="([^"]+)"/.exec(own.values.get('go_info')![0]!.labels)![1]);

        // What the default collector lacks comes under client_golang's runtime/metrics names.
        const sample = (name: string) => probe.sample(name, pid);
        expect(sample('go_sched_pauses_total_gc_seconds')).toBeDefined();
        expect(sample('go_sched_pauses_total_gc_seconds')?.labels.phase).toBeUndefined();
        expect(sample('go_gc_cycles_total_gc_cycles_total')).toBeDefined();
        expect(sample('go_sched_pauses_total_other_seconds')).toBeDefined();
        // No seed name is left where client_golang has its own.
        for (const seed of ['go_mem_alloc_bytes_total', 'go_gc_pause_seconds', 'go_gc_heap_goal_bytes', 'go_gc_cycles_total']) expect(ours.types.has(seed), seed).toBe(false);
        expect(probe.error).toBeUndefined();
      } finally {
        probe.stop();
        child.kill('SIGTERM');
        await exited;
      }
    }, 120_000);
  }
});

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exited, waitFor } from './helpers/cli.js';
import { metricValue, runAgent, scrape } from './helpers/agent.js';
import { settledKernelObjects } from './helpers/kernel-objects.js';
import { freePort } from './helpers/servers.js';
import { buildC, startWorkload } from './helpers/workloads.js';

const run = runAgent;

function onHitLinkIds(): number[] {
  const progs = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' })) as { id: number; name?: string }[];
  const ids = new Set(progs.filter((p) => p.name === 'on_hit').map((p) => p.id));
  const links = JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' })) as { id: number; prog_id: number }[];
  return links.filter((l) => ids.has(l.prog_id)).map((l) => l.id).sort();
}

const synthetic = (sinkPort: number, name = 'reload_demo_total') => `probes:
  p: { type: synthetic, interval: 100ms, series: [{ name: ${name}, kind: counter, value: { constant: 1 } }] }
sinks:
  out: { type: prometheus, listen: "127.0.0.1:${sinkPort}" }
pipelines:
  a: { inputs: [p], sinks: [out] }
`;

describe('hot reload', () => {
  it('a change to a sink only keeps the probe attached (same BPF link ids) and its counter running', async () => {
    const w = await startWorkload(buildC(), 100);
    const [http, s1, s2] = [await freePort(), await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'pf-reload-'));
    const file = join(dir, 'pipeline.yaml');
    const cfg = (port: number) => `probes:
  work:
    type: uprobe
    target: { pid: ${w.pid} }
    interval: 100ms
    rescan: 50ms
    points: [{ name: reload_work_calls, symbol: work }]
sinks:
  out: { type: prometheus, listen: "127.0.0.1:${port}" }
pipelines:
  a: { inputs: [work], sinks: [out] }
`;
    writeFileSync(file, cfg(s1));
    const r = run(file, http);
    try {
      await r.waitLog('uprobes attached');
      await w.go();
      let text = '';
      await waitFor(() => {
        void scrape(s1).then((t) => (text = t), () => {});
        return /reload_work_calls_total\{[^}]*\} 100\n/.test(text);
      }, 10_000, 'first sink to show 100 calls');
      const linksBefore = onHitLinkIds();
      expect(linksBefore.length).toBe(1);

      writeFileSync(file, cfg(s2));
      r.child.kill('SIGHUP');
      await r.waitLog('config reloaded');
      const reloaded = r.logs().find((l) => l.msg === 'config reloaded')!;
      expect(reloaded.changed).toEqual(['sink:out', 'pipeline:a']);
      expect(reloaded.removed).toEqual([]);
      expect(onHitLinkIds()).toEqual(linksBefore);
      await waitFor(() => {
        void scrape(s2).then((t) => (text = t), () => {});
        return /reload_work_calls_total\{[^}]*\} 100\n/.test(text);
      }, 10_000, 'the new sink to show the same 100 calls (counter not reset)');
      await expect(fetch(`http://127.0.0.1:${s1}/metrics`)).rejects.toThrow();
    } finally {
      r.child.kill('SIGTERM');
      expect((await exited(r.child)).code).toBe(0);
      await w.finish();
    }
    expect(await settledKernelObjects()).toEqual({ programs: 0, links: 0 });
  });

  it('refuses a bad config with located errors; the old pipelines keep exporting', async () => {
    const [http, sink] = [await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'pf-reload-'));
    const file = join(dir, 'pipeline.yaml');
    writeFileSync(file, synthetic(sink));
    const r = run(file, http);
    try {
      await r.waitLog('running');
      writeFileSync(file, synthetic(sink).replace('interval: 100ms', 'interval: 100 ms'));
      r.child.kill('SIGHUP');
      await r.waitLog('config reload refused; the running pipelines are unchanged');
      const refused = r.logs().find((l) => l.msg.startsWith('config reload refused'))!;
      expect(refused.errors).toEqual([`${file}:2:35: probes.p.interval: expected a duration such as 500ms, 10s, 1m30s or 2h, got "100 ms"`]);
      const engineMetrics = await scrape(http);
      expect(engineMetrics).toMatch(/probeflow_config_last_reload_successful 0\n/);
      expect(engineMetrics).toMatch(/probeflow_config_reloads_total\{result="failure"\} 1\n/);
      const before = metricValue(await scrape(sink), /reload_demo_total (\d+)/);
      await new Promise((res) => setTimeout(res, 400));
      expect(metricValue(await scrape(sink), /reload_demo_total (\d+)/)).toBeGreaterThan(before);
    } finally {
      r.child.kill('SIGTERM');
      await exited(r.child);
    }
  });

  it('rolls back a config that validates but cannot be built (a probe that cannot attach)', async () => {
    const [http, sink] = [await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'pf-reload-'));
    const file = join(dir, 'pipeline.yaml');
    writeFileSync(file, synthetic(sink));
    const r = run(file, http, ['--watch-interval', '0s']);
    try {
      await r.waitLog('running');
      // Valid YAML and schema; the tracepoint does not exist, which only attaching can tell.
      writeFileSync(file, synthetic(sink).replace('probes:\n', 'probes:\n  tp: { type: tracepoint, tracepoints: [{ name: x, event: "sched:sched_no_such_event" }] }\n') + `  b: { inputs: [tp], sinks: [out] }\n`);
      const res = await fetch(`http://127.0.0.1:${http}/-/reload`, { method: 'POST' });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { errors: string[] }).errors[0]).toMatch(/probe "tp" \(tracepoint\) could not start: attach tracepoint sched:sched_no_such_event: No such file or directory.*; the running configuration is kept/s);
      const before = metricValue(await scrape(sink), /reload_demo_total (\d+)/);
      await new Promise((res2) => setTimeout(res2, 400));
      expect(metricValue(await scrape(sink), /reload_demo_total (\d+)/)).toBeGreaterThan(before);
      expect(await scrape(http)).toMatch(/probeflow_config_last_reload_successful 0\n/);
    } finally {
      r.child.kill('SIGTERM');
      await exited(r.child);
    }
  });

  it('POST /-/reload applies a good config (200) and refuses a bad one (400) with its errors', async () => {
    const [http, sink] = [await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'pf-reload-'));
    const file = join(dir, 'pipeline.yaml');
    writeFileSync(file, synthetic(sink));
    const r = run(file, http, ['--watch-interval', '0s']);
    try {
      await r.waitLog('engine endpoint listening');
      writeFileSync(file, synthetic(sink, 'renamed_total'));
      const ok = await fetch(`http://127.0.0.1:${http}/-/reload`, { method: 'POST' });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ ok: true, unchanged: false, changes: { changed: ['probe:p', 'pipeline:a'], kept: ['sink:out'] } });
      writeFileSync(file, 'pipelines: [');
      const bad = await fetch(`http://127.0.0.1:${http}/-/reload`, { method: 'POST' });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { errors: string[] }).errors[0]).toMatch(new RegExp(`^${file}:1:\\d+: YAML: `));
      expect((await fetch(`http://127.0.0.1:${http}/-/reload`)).status).toBe(405);
      expect((await fetch(`http://127.0.0.1:${http}/healthz`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${http}/readyz`)).status).toBe(200);
      expect(await scrape(sink)).toMatch(/renamed_total \d+/);
    } finally {
      r.child.kill('SIGTERM');
      await exited(r.child);
    }
  });

  it('reloads when kubelet swaps the ConfigMap ..data symlink (AtomicWriter), from the watch alone', async () => {
    const [http, sink] = [await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'pf-configmap-'));
    // kubelet's layout: pipeline.yaml -> ..data/pipeline.yaml, ..data -> ..<timestamp>
    const version = (name: string, content: string) => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'pipeline.yaml'), content);
    };
    version('..2026_11_25_01_00_00.000000001', synthetic(sink));
    symlinkSync('..2026_11_25_01_00_00.000000001', join(dir, '..data'));
    symlinkSync('..data/pipeline.yaml', join(dir, 'pipeline.yaml'));
    const r = run(join(dir, 'pipeline.yaml'), http, ['--watch-interval', '0s']);
    try {
      await r.waitLog('running');
      version('..2026_11_25_01_05_00.000000002', synthetic(sink, 'swapped_total'));
      symlinkSync('..2026_11_25_01_05_00.000000002', join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
      await r.waitLog('config reloaded');
      expect(r.logs().find((l) => l.msg === 'config reloaded')!.trigger).toBe('file change');
      expect(await scrape(sink)).toMatch(/swapped_total \d+/);
    } finally {
      r.child.kill('SIGTERM');
      await exited(r.child);
    }
  });

  it('coalesces a storm of 100 SIGHUPs into at most two reloads and keeps running', async () => {
    const [http, sink] = [await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'pf-reload-'));
    const file = join(dir, 'pipeline.yaml');
    writeFileSync(file, synthetic(sink));
    const r = run(file, http, ['--watch-interval', '0s']);
    try {
      await r.waitLog('running');
      writeFileSync(file, synthetic(sink, 'storm_total'));
      for (let i = 0; i < 100; i++) r.child.kill('SIGHUP');
      await r.waitLog('config reloaded');
      await new Promise((res) => setTimeout(res, 500));
      const attempts = r.logs().filter((l) => l.msg === 'config reloaded' || l.msg === 'config unchanged; nothing to reload').length;
      expect(attempts).toBeGreaterThanOrEqual(1);
      expect(attempts).toBeLessThanOrEqual(2);
      expect(r.child.exitCode).toBeNull();
      expect(await scrape(sink)).toMatch(/storm_total \d+/);
    } finally {
      r.child.kill('SIGTERM');
      expect((await exited(r.child)).code).toBe(0);
    }
  });
});

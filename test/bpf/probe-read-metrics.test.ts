import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { goRuntimeProbe } from '../../probes/go-runtime.js';
import { waitFor } from '../helpers/cli.js';
import { settledKernelObjects } from '../helpers/kernel-objects.js';
import { runProbe } from '../helpers/probe-harness.js';
import { buildDemoWorkload } from '../helpers/workloads.js';

describe("a probe's reads in the agent's own metrics", () => {
  afterAll(async () => {
    expect(await settledKernelObjects()).toEqual({ programs: 0, links: 0 });
  });

  it('counts each read of go_runtime and the time it took, under the probe id', async () => {
    const w = spawn(buildDemoWorkload(), [], { stdio: 'ignore', env: { ...process.env, GOMAXPROCS: '1' } });
    const started = performance.now();
    const p = runProbe(goRuntimeProbe, { target: { pid: w.pid }, interval: '100ms', rescan: '50ms' });
    const value = async (name: string) => (await p.metrics.registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.probe === 'under-test')?.value ?? 0;
    try {
      await p.tracking(w.pid!);
      await waitFor(() => p.series('go_mem_alloc_bytes_total', w.pid!).length > 0, 10_000, 'the first read');
      await new Promise((r) => setTimeout(r, 500));
      const reads = await value('probeflow_probe_reads_total');
      const seconds = await value('probeflow_probe_read_seconds_total');
      // ~100 ms apart for 0.5 s, plus the first read of the fresh process.
      expect(reads).toBeGreaterThanOrEqual(3);
      expect(seconds).toBeGreaterThan(0);
      // Time on the event loop, in seconds, not ms (what it costs is the bench's to say).
      expect(seconds).toBeLessThan((performance.now() - started) / 1000);
      expect(p.error).toBeUndefined();
    } finally {
      p.stop();
      w.kill();
    }
  });
});

import { afterAll, describe, expect, it } from 'vitest';
import { goRuntimeProbe } from '../../probes/go-runtime.js';
import { OTEL_SEMCONV_NAMES, RENAMED } from '../../probes/lib/go/naming-profiles.js';
import { otlpSink } from '../../sinks/otlp.js';
import { waitFor } from '../helpers/cli.js';
import { startFidelityWorkload } from '../helpers/go-fidelity-workload.js';
import { goToolchains } from '../helpers/go-toolchains.js';
import { settledKernelObjects } from '../helpers/kernel-objects.js';
import { runProbe } from '../helpers/probe-harness.js';
import { testContext } from '../helpers/samples.js';
import { promQuery, startVictoriaMetrics, trixieReceiver } from '../helpers/servers.js';
import { buildGoProgram } from '../helpers/workloads.js';

describe('names: otel over OTLP — semantic-conventions names on the wire, a real receiver stores them', () => {
  afterAll(async () => {
    expect(await settledKernelObjects()).toEqual({ programs: 0, links: 0 });
  });

  it("a Go process's otel series reach VictoriaMetrics as go.memory.allocated…, and under Prometheus naming as the otel profile's names, values exact", async () => {
    const tc = goToolchains().at(-1)!;
    const bin = buildGoProgram('go-fidelity', 'stripped', tc);
    const w = startFidelityWorkload(bin);
    const otel = runProbe(goRuntimeProbe, { target: { pid: w.pid }, interval: '200ms', rescan: '50ms', names: 'otel', metrics: ['goroutines', 'gomaxprocs', 'alloc', 'gc_controller', 'sched_latency'] });
    const vm = await startVictoriaMetrics({ binary: trixieReceiver('victoria-metrics') });
    const vmProm = await startVictoriaMetrics({ binary: trixieReceiver('victoria-metrics'), flags: ['-opentelemetry.usePrometheusNaming'] });
    try {
      // The workload waits on stdin after "ready": its values stay put while they are sent.
      await w.phase('ready', 30_000);
      await otel.tracking(w.pid);
      const pid = w.pid;
      const names = Object.values(RENAMED.otel);
      await waitFor(() => names.every((n) => otel.series(n, pid).length > 0), 5000, 'every otel series');
      const samples = names.flatMap((n) => otel.series(n, pid));
      for (const server of [vm, vmProm]) {
        const sink = otlpSink.create({ type: 'otlp', endpoint: `${server.url}/opentelemetry/v1/metrics`, queue: { batch_send_deadline: '10ms' } }, testContext('otlp'));
        sink.write(samples, { pipeline: 'go' });
        await sink.stop();
        await fetch(`${server.url}/internal/force_flush`);
      }
      const at = Math.max(...samples.map((s) => s.timestamp)) / 1000;
      // Under Prometheus naming the attributes' dots become underscores too: process_pid.
      const stored = async (base: string, name: string, pidLabel = 'process.pid') => (await promQuery(base, `last_over_time({__name__="${name}", "${pidLabel}"="${pid}"}[1m])`, at)).map((r) => Number(r.value![1]));
      for (const [seed, promName] of Object.entries(RENAMED.otel)) {
        const s = otel.sample(promName, pid)!;
        const want = s.kind === 'histogram' ? s.count : s.kind === 'event' ? NaN : s.value;
        const suffix = s.kind === 'histogram' ? '_count' : '';
        // As sent: the semantic-conventions name.
        expect(await stored(vm.url, OTEL_SEMCONV_NAMES[seed]! + suffix), OTEL_SEMCONV_NAMES[seed]).toEqual([want]);
        // Translated for Prometheus by the receiver: exactly the otel profile's name.
        expect(await stored(vmProm.url, promName + suffix, 'process_pid'), promName).toEqual([want]);
      }
      expect(otel.error).toBeUndefined();
    } finally {
      otel.stop();
      await Promise.all([vm.stop(), vmProm.stop()]);
      await w.kill();
    }
  }, 90_000);
});

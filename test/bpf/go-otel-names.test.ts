import { afterAll, describe, expect, it } from 'vitest';
import { goRuntimeProbe } from '../../probes/go-runtime.js';
import { OTEL_SEMCONV_NAMES, RENAMED } from '../../probes/lib/go/naming-profiles.js';
import { waitFor } from '../helpers/cli.js';
import { startFidelityWorkload } from '../helpers/go-fidelity-workload.js';
import { goToolchains } from '../helpers/go-toolchains.js';
import { settledKernelObjects } from '../helpers/kernel-objects.js';
import { runProbe } from '../helpers/probe-harness.js';
import { buildGoProgram } from '../helpers/workloads.js';

describe('names: otel — OpenTelemetry semantic conventions as Prometheus stores them', () => {
  afterAll(async () => {
    expect(await settledKernelObjects()).toEqual({ programs: 0, links: 0 });
  });

  it('each renamed series is the seed series under its otel name, and no seed name is left where otel has one', async () => {
    const tc = goToolchains().at(-1)!;
    const bin = buildGoProgram('go-fidelity', 'stripped', tc);
    const w = startFidelityWorkload(bin);
    const config = { target: { pid: w.pid }, interval: '200ms', rescan: '50ms', metrics: ['goroutines', 'gomaxprocs', 'alloc', 'gc_controller', 'sched_latency', 'gc_pauses', 'blocked'] };
    const seed = runProbe(goRuntimeProbe, config);
    const otel = runProbe(goRuntimeProbe, { ...config, names: 'otel' });
    try {
      // The workload waits on stdin after "ready": nothing it does moves these values meanwhile.
      await w.phase('ready', 30_000);
      await seed.tracking(w.pid);
      await otel.tracking(w.pid);
      const pid = w.pid;
      const renames = Object.entries(RENAMED.otel);
      await waitFor(() => renames.every(([from, to]) => seed.series(from, pid).length > 0 && otel.series(to, pid).length > 0), 5000, 'every renamed series in both');
      for (const [from, to] of renames) {
        const a = seed.sample(from, pid)!;
        const b = otel.sample(to, pid)!;
        expect(b.kind, to).toBe(a.kind);
        if (a.kind !== 'histogram' && b.kind !== 'histogram' && a.kind !== 'event' && b.kind !== 'event') expect(b.value, to).toBe(a.value);
        // Prometheus' OTLP translation: dots to underscores, the unit as a suffix, _total on counters.
        expect(to.startsWith(OTEL_SEMCONV_NAMES[from]!.replaceAll('.', '_')), `${to} from ${OTEL_SEMCONV_NAMES[from]}`).toBe(true);
        expect(otel.series(from, pid), `${from} is renamed under otel`).toEqual([]);
      }
      // What otel has no name for keeps probeflow's: blocked time, pauses by phase.
      expect(otel.series('go_sched_goroutines_blocked_seconds_total', pid).length).toBeGreaterThan(0);
      expect(otel.series('go_gc_pause_seconds', pid).map((s) => s.labels.phase).sort()).toEqual(['mark_termination', 'sweep_termination']);
      expect(seed.error).toBeUndefined();
      expect(otel.error).toBeUndefined();
    } finally {
      seed.stop();
      otel.stop();
      await w.kill();
    }
  }, 60_000);
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from '../engine/components/registry.js';
import { ConfigLoader } from '../engine/config/load-config.js';
import { Engine } from '../engine/runtime/engine.js';
import { silentLogger } from '../engine/util/log.js';
import { sampleToJson } from '../engine/model/sample-json.js';
import { builtinProbes } from '../probes/index.js';
import { builtinStages } from '../stages/index.js';
import { captureSink } from './helpers/capture-sink.js';
import { waitFor } from './helpers/cli.js';
import { counter, gauge } from './helpers/samples.js';

function setup(yaml: string, sinkOpts = {}) {
  const store = { batches: [] as { pipeline: string; samples: readonly any[] }[] };
  const registry = new Registry().register(...builtinProbes, ...builtinStages, captureSink(store, sinkOpts));
  const dir = mkdtempSync(join(tmpdir(), 'probeflow-engine-'));
  const file = join(dir, 'pipeline.yaml');
  writeFileSync(file, yaml);
  const loaded = new ConfigLoader(registry).load(file);
  return { store, registry, dir, topology: loaded.topology, engine: new Engine(registry, silentLogger) };
}

const recording = [counter('c', 10, 1000), counter('c', 15, 2000), counter('c', 3, 3000), gauge('g', 1, 3000)].map(sampleToJson).join('\n');

describe('engine', () => {
  it("publishes its own counters at 0 before anything happens, and the agent's footprint", async () => {
    const t = setup(`
probes:
  p: { type: synthetic, interval: 1h, series: [{ name: x, kind: gauge, value: { constant: 1 } }] }
sinks:
  cap: { type: capture }
pipelines:
  a: { inputs: [p], sinks: [cap] }
`);
    await t.engine.start(t.topology);
    try {
      const text = await t.engine.metrics.registry.metrics();
      // Present at 0, so the first error or batch is an increase rate() sees.
      expect(text).toContain('probeflow_component_errors_total{kind="probe",id="p"} 0');
      expect(text).toContain('probeflow_component_errors_total{kind="sink",id="cap"} 0');
      expect(text).toContain('probeflow_component_errors_total{kind="pipeline",id="a"} 0');
      expect(text).toMatch(/probeflow_pipeline_samples_out_total\{pipeline="a"\} \d+/);
      const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
      expect(value('process_resident_memory_bytes')).toBeGreaterThan(10e6);
      expect(value('process_cpu_seconds_total')).toBeGreaterThan(0);
      expect(value('process_open_fds')).toBeGreaterThan(2);
      expect(value('process_start_time_seconds')).toBeLessThanOrEqual(Date.now() / 1000);
      expect(value('nodejs_heap_size_used_bytes')).toBeGreaterThan(1e6);
    } finally {
      await t.engine.stop();
    }
  });

  it('runs replay → stages → sink, and chains a pipeline into another', async () => {
    const t = setup(`
probes:
  rec: { type: replay, file: rec.ndjson, pace: fast }
sinks:
  cap: { type: capture }
pipelines:
  counters:
    inputs: [rec]
    stages:
      - type: filter
        keep: { kind: [counter] }
  deltas:
    inputs: [counters]
    stages: [{ type: delta }]
    sinks: [cap]
`);
    writeFileSync(join(t.dir, 'rec.ndjson'), recording);
    await t.engine.start(t.topology);
    await t.engine.done;
    await t.engine.stop();
    expect(t.store.batches.map((b) => b.samples.map((s) => s.value))).toEqual([[5], [3]]);
    expect(t.store.batches.every((b) => b.pipeline === 'deltas')).toBe(true);
  });

  it('attaches a probe once for several pipelines, and no pipeline misses the first batch', async () => {
    const t = setup(`
probes:
  p: { type: synthetic, ticks: 1, series: [{ name: x, kind: gauge, value: { constant: 1 } }] }
sinks:
  cap: { type: capture }
pipelines:
  a: { inputs: [p], sinks: [cap] }
  b: { inputs: [p], sinks: [cap] }
`);
    await t.engine.start(t.topology);
    await t.engine.done;
    await t.engine.stop();
    expect(t.store.batches.map((b) => b.pipeline).sort()).toEqual(['a', 'b']);
  });

  it('keeps other pipelines running when one probe fails', async () => {
    const t = setup(`
probes:
  missing: { type: replay, file: does-not-exist.ndjson }
  ok: { type: synthetic, ticks: 2, interval: 10ms, series: [{ name: x, kind: gauge, value: { constant: 1 } }] }
sinks:
  cap: { type: capture }
pipelines:
  broken: { inputs: [missing], sinks: [cap] }
  fine: { inputs: [ok], sinks: [cap] }
`);
    await t.engine.start(t.topology);
    await waitFor(() => t.store.batches.filter((b) => b.pipeline === 'fine').length === 2, 5000, 'the fine pipeline');
    // A failed probe has not finished: its pipeline waits for a reload, so the run is not done.
    const done = await Promise.race([t.engine.done.then(() => true), new Promise((r) => setTimeout(() => r(false), 100))]);
    expect(done).toBe(false);
    await t.engine.stop();
    expect(t.store.batches.filter((b) => b.pipeline === 'fine')).toHaveLength(2);
    expect(t.engine.status().probes.missing).toMatchObject({ up: false, error: expect.stringMatching(/no such file .*does-not-exist.ndjson/) });
    const errors = await t.engine.metrics.componentErrors.get();
    expect(errors.values).toContainEqual(expect.objectContaining({ labels: { kind: 'probe', id: 'missing' }, value: 1 }));
  });

  it('survives a sink that throws on write and counts the error', async () => {
    const t = setup(
      `
probes:
  p: { type: synthetic, ticks: 3, interval: 5ms, series: [{ name: x, kind: gauge, value: { constant: 1 } }] }
sinks:
  cap: { type: capture }
pipelines:
  a: { inputs: [p], sinks: [cap] }
`,
      { throwOnWrite: true },
    );
    await t.engine.start(t.topology);
    await t.engine.done;
    await t.engine.stop();
    const errors = await t.engine.metrics.componentErrors.get();
    expect(errors.values).toContainEqual(expect.objectContaining({ labels: { kind: 'sink', id: 'cap' }, value: 3 }));
  });

  it('caps series per pipeline and counts the overflow by metric', async () => {
    const lines = Array.from({ length: 10 }, (_, i) => sampleToJson(gauge('per_goroutine', 1, 1000, { goid: String(i) }))).join('\n');
    const t = setup(`
probes:
  rec: { type: replay, file: rec.ndjson, pace: fast }
sinks:
  cap: { type: capture }
pipelines:
  a: { inputs: [rec], sinks: [cap], max_series: 4 }
`);
    writeFileSync(join(t.dir, 'rec.ndjson'), lines);
    await t.engine.start(t.topology);
    await t.engine.done;
    await t.engine.stop();
    expect(t.store.batches.flatMap((b) => b.samples)).toHaveLength(4);
    const overflow = await t.engine.metrics.seriesOverflow.get();
    expect(overflow.values).toEqual([expect.objectContaining({ labels: { pipeline: 'a', metric: 'per_goroutine' }, value: 6 })]);
  });

  it('stop() detaches an endless probe and returns within the drain bound', async () => {
    const t = setup(`
probes:
  p: { type: synthetic, interval: 5ms, series: [{ name: x, kind: gauge, value: { constant: 1 } }] }
sinks:
  cap: { type: capture }
pipelines:
  a: { inputs: [p], sinks: [cap] }
`);
    await t.engine.start(t.topology);
    await new Promise((r) => setTimeout(r, 30));
    expect(await t.engine.stop(1000)).toBe(true);
    const n = t.store.batches.length;
    await new Promise((r) => setTimeout(r, 30));
    expect(t.store.batches.length).toBe(n);
  });
});

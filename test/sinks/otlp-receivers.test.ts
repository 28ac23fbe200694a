import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otlpSink } from '../../sinks/otlp.js';
import { counter, gauge, hist, testContext } from '../helpers/samples.js';
import { promQuery, startVictoriaMetrics, trixieReceiver, type RunningServer } from '../helpers/servers.js';

/**
 * The otlp sink into a real OTLP receiver: trixie's VictoriaMetrics 1.112 at
 * /opentelemetry/v1/metrics. Prometheus is not here: Debian builds every Prometheus it ships
 * (bookworm 2.42, trixie 2.53, sid 3.5) without the OTLP receiver (docs/otlp.md).
 */
const t0 = Math.floor(Date.now() / 1000) * 1000 - 60_000;
const proc = { pid: '4242', comm: 'api', exe: '/usr/bin/api', namespace: 'shop', pod: 'api-7d9', container: 'api' };
const host = hostname();
/** The resource attributes VictoriaMetrics adds to every series of the process, as labels. */
const procResource = {
  'process.pid': '4242',
  'process.executable.name': 'api',
  'process.executable.path': '/usr/bin/api',
  'k8s.namespace.name': 'shop',
  'k8s.pod.name': 'api-7d9',
  'k8s.container.name': 'api',
  'service.name': 'api',
  'service.instance.id': `${host}:4242`,
  'host.name': host,
  'deployment.environment.name': 'test',
};

const batch = [
  counter('probeflow_otlp_calls_total', 10, t0, { ...proc, op: 'get' }),
  counter('probeflow_otlp_calls_total', 25, t0 + 1000, { ...proc, op: 'get' }),
  gauge('go.goroutines', 12, t0, proc),
  hist('probeflow_otlp_pause_seconds', [0.001, 0.01], [4, 2, 1], 0.031, t0, proc),
  // A process that exits: a "no recorded value" point follows its last one.
  gauge('probeflow_otlp_exited', 7, t0, { pid: '9' }),
  { ...gauge('probeflow_otlp_exited', 8, t0 + 1000, { pid: '9' }), ended: true as const },
  gauge('probeflow_otlp_running', 5, t0 + 1000, { pid: '10' }),
];

/** Raw samples of a series in [t0-1s, t0+2s] (a range-vector instant query: no interpolation). */
async function raw(base: string, selector: string) {
  return promQuery(base, `${selector}[3s]`, (t0 + 2000) / 1000);
}

describe('otlp into VictoriaMetrics 1.112 (trixie), a real OTLP/HTTP receiver', () => {
  let vm: RunningServer;
  let sent: number;
  let failed: number;
  beforeAll(async () => {
    vm = await startVictoriaMetrics({ binary: trixieReceiver('victoria-metrics') });
    const ctx = testContext('otlp');
    const sink = otlpSink.create({ type: 'otlp', endpoint: `${vm.url}/opentelemetry/v1/metrics`, resource_attributes: { 'deployment.environment.name': 'test' }, queue: { batch_send_deadline: '10ms' } }, ctx);
    await sink.start();
    sink.write(batch, { pipeline: 'p' });
    await sink.stop();
    sent = (await ctx.metrics.sinkSent.get()).values.reduce((n, v) => n + v.value, 0);
    failed = (await ctx.metrics.sinkFailed.get()).values.reduce((n, v) => n + v.value, 0);
    await fetch(`${vm.url}/internal/force_flush`);
  }, 60_000);
  afterAll(async () => vm?.stop());

  it('takes every point (gzip protobuf) and refuses none', () => {
    // 7 samples → 8 points: the ended series adds its "no recorded value" point.
    expect([sent, failed]).toEqual([8, 0]);
  });

  it('stores counters and gauges with exact values and timestamps, resource attributes and point attributes as labels', async () => {
    const calls = await raw(vm.url, 'probeflow_otlp_calls_total');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.metric).toEqual({ __name__: 'probeflow_otlp_calls_total', op: 'get', ...procResource });
    expect(calls[0]!.values).toEqual([
      [t0 / 1000, '10'],
      [(t0 + 1000) / 1000, '25'],
    ]);
    // The otel naming profile's dotted names reach the receiver as they are.
    const goroutines = await raw(vm.url, '{__name__="go.goroutines"}');
    expect(goroutines.map((s) => [s.metric['service.name'], s.values])).toEqual([['api', [[t0 / 1000, '12']]]]);
  });

  it('stores histograms as cumulative buckets with sum and count', async () => {
    const buckets = await raw(vm.url, 'probeflow_otlp_pause_seconds_bucket');
    expect(Object.fromEntries(buckets.map((b) => [b.metric.le, b.values![0]![1]]))).toEqual({ '0.001': '4', '0.01': '6', '+Inf': '7' });
    expect((await raw(vm.url, 'probeflow_otlp_pause_seconds_sum'))[0]!.values![0]![1]).toBe('0.031');
    expect((await raw(vm.url, 'probeflow_otlp_pause_seconds_count'))[0]!.values![0]![1]).toBe('7');
  });

  it('an ended series is stale right after its last value; a running one is still returned', async () => {
    const exited = await raw(vm.url, 'probeflow_otlp_exited');
    expect(exited[0]!.values).toEqual([
      [t0 / 1000, '7'],
      [(t0 + 1000) / 1000, '8'],
      [(t0 + 1001) / 1000, 'NaN'],
    ]);
    expect(await promQuery(vm.url, 'probeflow_otlp_exited', (t0 + 30_000) / 1000)).toEqual([]);
    expect((await promQuery(vm.url, 'probeflow_otlp_running', (t0 + 30_000) / 1000)).map((s) => s.value![1])).toEqual(['5']);
  });

  it('keeps processes apart by resource: every process its own service.instance.id', async () => {
    const running = await raw(vm.url, 'probeflow_otlp_running');
    expect(running[0]!.metric).toMatchObject({ 'process.pid': '10', 'service.instance.id': `${host}:10`, 'service.name': 'unknown_service' });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { remoteWriteSink } from '../../sinks/remote-write.js';
import { counter, gauge, hist, testContext } from '../helpers/samples.js';
import { startPrometheus, startVictoriaMetrics, type RunningServer } from '../helpers/servers.js';

/** Samples a few seconds in the past at exact milliseconds, so queries can ask for exactly them. */
const t0 = Math.floor(Date.now() / 1000) * 1000 - 60_000;
const batch = [
  counter('probeflow_rw_calls_total', 10, t0, { pid: '1', comm: 'api' }),
  counter('probeflow_rw_calls_total', 25, t0 + 1000, { pid: '1', comm: 'api' }),
  gauge('probeflow_rw_queue', 2.25, t0, { p: '3' }),
  hist('probeflow_rw_pause_seconds', [0.001, 0.01], [4, 2, 1], 0.031, t0, { pid: '1' }),
  // A process that exits: its last value is marked ended, so a staleness marker follows it.
  gauge('probeflow_rw_exited', 7, t0, { pid: '9' }),
  { ...gauge('probeflow_rw_exited', 8, t0 + 1000, { pid: '9' }), ended: true as const },
  gauge('probeflow_rw_running', 5, t0 + 1000, { pid: '10' }),
];

/** The instant value at `at` (Prometheus looks back 5 minutes for the latest sample, unless it is stale). */
async function instant(base: string, selector: string, at: number): Promise<string[]> {
  const params = new URLSearchParams({ query: selector, time: String(at / 1000) });
  const res = (await (await fetch(`${base}/api/v1/query?${params}`)).json()) as { status: string; data: { result: { value: [number, string] }[] } };
  expect(res.status).toBe('success');
  return res.data.result.map((r) => r.value[1]);
}

async function pushAll(url: string) {
  const sink = remoteWriteSink.create({ type: 'remote_write', url, external_labels: { node: 'n1' }, queue: { batch_send_deadline: '10ms' } }, testContext('rw'));
  sink.write(batch, { pipeline: 'p' });
  await sink.flush();
  await sink.stop();
}

/** Raw samples of a series in [t0-1s, t0+2s], via a range-vector instant query (no step interpolation). */
async function rawSamples(base: string, selector: string): Promise<{ metric: Record<string, string>; values: [number, string][] }[]> {
  const params = new URLSearchParams({ query: `${selector}[3s]`, time: String((t0 + 2000) / 1000) });
  const res = (await (await fetch(`${base}/api/v1/query?${params}`)).json()) as { status: string; data: { result: never[] } };
  expect(res.status).toBe('success');
  return res.data.result;
}

describe.each([
  ['Prometheus 2.42 (--web.enable-remote-write-receiver)', startPrometheus, '/api/v1/write'],
  ['VictoriaMetrics', startVictoriaMetrics, '/api/v1/write'],
] as const)('remote_write into %s', (_name, start, path) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await start();
    await pushAll(`${server.url}${path}`);
    // VictoriaMetrics makes fresh data searchable after a short in-memory buffering.
    if (start === startVictoriaMetrics) await fetch(`${server.url}/internal/force_flush`);
  });
  afterAll(async () => server?.stop());

  it('stores counters and gauges with their exact values, labels and timestamps', async () => {
    const calls = await rawSamples(server.url, 'probeflow_rw_calls_total');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.metric).toEqual({ __name__: 'probeflow_rw_calls_total', pid: '1', comm: 'api', node: 'n1' });
    expect(calls[0]!.values).toEqual([
      [t0 / 1000, '10'],
      [(t0 + 1000) / 1000, '25'],
    ]);
    const queue = await rawSamples(server.url, 'probeflow_rw_queue');
    expect(queue[0]!.values).toEqual([[t0 / 1000, '2.25']]);
  });

  it('stores histograms as cumulative buckets with sum and count', async () => {
    const buckets = await rawSamples(server.url, 'probeflow_rw_pause_seconds_bucket');
    expect(Object.fromEntries(buckets.map((b) => [b.metric.le, b.values[0]![1]]))).toEqual({ '0.001': '4', '0.01': '6', '+Inf': '7' });
    expect((await rawSamples(server.url, 'probeflow_rw_pause_seconds_sum'))[0]!.values[0]![1]).toBe('0.031');
    expect((await rawSamples(server.url, 'probeflow_rw_pause_seconds_count'))[0]!.values[0]![1]).toBe('7');
  });

  it('an ended series is stale right after its last value: queries stop returning it, a running one is still returned', async () => {
    const raw = (await rawSamples(server.url, 'probeflow_rw_exited'))[0]!.values;
    expect(raw.filter(([, v]) => v !== 'NaN')).toEqual([
      [t0 / 1000, '7'],
      [(t0 + 1000) / 1000, '8'],
    ]);
    // VictoriaMetrics lists the marker it stored among the raw samples; Prometheus hides it.
    if (start === startVictoriaMetrics) expect(raw).toContainEqual([(t0 + 1001) / 1000, 'NaN']);
    expect(await instant(server.url, 'probeflow_rw_exited', t0 + 1000)).toEqual(['8']);
    // 30 s later, within the 5-minute lookback: without the marker the exited process would still show 8.
    expect(await instant(server.url, 'probeflow_rw_exited', t0 + 30_000)).toEqual([]);
    expect(await instant(server.url, 'probeflow_rw_running', t0 + 30_000)).toEqual(['5']);
  });
});

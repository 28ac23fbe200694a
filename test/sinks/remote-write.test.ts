import { afterEach, describe, expect, it } from 'vitest';
import { remoteWriteSink } from '../../sinks/remote-write.js';
import { encodeWriteRequest } from '../../sinks/lib/remote-write-encoder.js';
import { toWireSamples } from '../../sinks/lib/remote-write-samples.js';
import { waitFor } from '../helpers/cli.js';
import { RemoteWriteReceiver } from '../helpers/push-receiver.js';
import { counter, gauge, hist, testContext } from '../helpers/samples.js';
import snappy from 'snappy';

const receivers: RemoteWriteReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
});

async function receiver(): Promise<RemoteWriteReceiver> {
  const r = await new RemoteWriteReceiver().start();
  receivers.push(r);
  return r;
}

const fastQueue = { batch_send_deadline: '20ms', min_backoff: '20ms', max_backoff: '200ms' };

async function metric(ctx: ReturnType<typeof testContext>, name: 'sinkSent' | 'sinkFailed' | 'sinkRetries' | 'sinkDropped', labels: Record<string, string> = {}) {
  const m = await ctx.metrics[name].get();
  return m.values.filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, string | number>)[k] === x)).reduce((n, v) => n + v.value, 0);
}

describe('remote_write encoder', () => {
  it('matches a golden byte vector (worked out by hand from the protobuf and snappy formats)', () => {
    const [s] = toWireSamples(gauge('a', 1, 2));
    const bytes = encodeWriteRequest([s!]);
    // WriteRequest{1: TimeSeries{1: Label{"__name__","a"}, 2: Sample{1.0 (fixed64), ts 2}}}
    const proto = '0a1c' + '0a0d' + '0a085f5f6e616d655f5f' + '120161' + '120b' + '09000000000000f03f' + '1002';
    // snappy block: uvarint length 30, then one literal of 30 bytes (tag (30-1)<<2 = 0x74).
    expect(bytes.toString('hex')).toBe('1e74' + proto);
  });

  it('sorts labels with __name__, drops empty ones and spells histograms as _bucket/_sum/_count', () => {
    const wire = toWireSamples(hist('lat', [0.5], [1, 2], 3, 1000, { z: '1', a: '2', empty: '' }), { cluster: 'c1', z: 'ignored' });
    expect(wire.map((w) => w.labels)).toEqual([
      [['__name__', 'lat_bucket'], ['a', '2'], ['cluster', 'c1'], ['le', '0.5'], ['z', '1']],
      [['__name__', 'lat_bucket'], ['a', '2'], ['cluster', 'c1'], ['le', '+Inf'], ['z', '1']],
      [['__name__', 'lat_sum'], ['a', '2'], ['cluster', 'c1'], ['z', '1']],
      [['__name__', 'lat_count'], ['a', '2'], ['cluster', 'c1'], ['z', '1']],
    ]);
    expect(wire.map((w) => w.value)).toEqual([1, 3, 3, 3]);
  });

  it('spells a histogram without bounds as a summary without quantiles: _sum and _count, as a scrape of it stores them', () => {
    const wire = toWireSamples(hist('go_gc_duration_seconds', [], [4], 0.002, 1000, { pid: '7' }));
    expect(wire.map((w) => [w.labels[0]![1], w.value])).toEqual([
      ['go_gc_duration_seconds_sum', 0.002],
      ['go_gc_duration_seconds_count', 4],
    ]);
  });
});

describe('remote_write sink against a decoding receiver (compliance checks)', () => {
  it('sends the required headers, a snappy block body, and keeps each series in order', async () => {
    const r = await receiver();
    const ctx = testContext('rw');
    const sink = remoteWriteSink.create({ type: 'remote_write', url: r.url, queue: { ...fastQueue, max_samples_per_send: 1000 } }, ctx);
    await sink.start();
    sink.write([counter('c_total', 1, 1000, { a: 'x' }), gauge('g', 5, 1000)], { pipeline: 'p' });
    sink.write([counter('c_total', 2, 2000, { a: 'x' }), gauge('g', 6, 2000)], { pipeline: 'p' });
    await sink.flush();
    expect(r.received).toHaveLength(1);
    const h = r.received[0]!.headers;
    expect(h['content-encoding']).toBe('snappy');
    expect(h['content-type']).toBe('application/x-protobuf');
    expect(h['x-prometheus-remote-write-version']).toBe('0.1.0');
    expect(h['user-agent']).toMatch(/^probeflow\/\d+\.\d+\.\d+$/);
    // Snappy block format, not framed: the framed format starts with the stream identifier 0xff.
    expect(r.received[0]!.body[0]).not.toBe(0xff);
    const ts = r.received[0]!.request!.timeseries;
    expect(ts.map((t) => t.labels)).toEqual([
      [{ name: '__name__', value: 'c_total' }, { name: 'a', value: 'x' }],
      [{ name: '__name__', value: 'g' }],
    ]);
    expect(ts[0]!.samples).toEqual([{ value: 1, timestamp: 1000 }, { value: 2, timestamp: 2000 }]);
    expect(await metric(ctx, 'sinkSent')).toBe(4);
    await sink.stop();
  });

  it('batches by max_samples_per_send', async () => {
    const r = await receiver();
    const sink = remoteWriteSink.create({ type: 'remote_write', url: r.url, queue: { ...fastQueue, max_samples_per_send: 3 } }, testContext('rw'));
    sink.write(Array.from({ length: 7 }, (_, i) => gauge('g', i, 1000 + i)), { pipeline: 'p' });
    await sink.flush();
    expect(r.received.map((x) => x.request!.timeseries[0]!.samples.length)).toEqual([3, 3, 1]);
    expect(r.samples().map((s) => s.value)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    await sink.stop();
  });

  for (const status of [500, 503]) {
    it(`retries on ${status} until accepted, with growing backoff`, async () => {
      const r = await receiver();
      r.script = [{ status }, { status }, { status }];
      const ctx = testContext('rw');
      const sink = remoteWriteSink.create({ type: 'remote_write', url: r.url, queue: { ...fastQueue, min_backoff: '30ms', max_backoff: '1s' } }, ctx);
      sink.write([gauge('g', 1, 1000)], { pipeline: 'p' });
      await waitFor(() => r.received.length === 4, 10_000, '4 attempts');
      await sink.flush();
      expect(await metric(ctx, 'sinkRetries')).toBe(3);
      expect(await metric(ctx, 'sinkSent')).toBe(1);
      // Same payload each time; the last one was accepted.
      expect(new Set(r.received.map((x) => x.body.toString('hex'))).size).toBe(1);
      const gaps = r.received.slice(1).map((x, i) => x.at - r.received[i]!.at);
      expect(gaps.every((g) => g >= 25)).toBe(true);
      await sink.stop();
    });
  }

  it('does not retry a 400 and counts the samples as failed', async () => {
    const r = await receiver();
    r.script = [{ status: 400 }];
    const ctx = testContext('rw');
    const sink = remoteWriteSink.create({ type: 'remote_write', url: r.url, queue: fastQueue }, ctx);
    sink.write([gauge('g', 1, 1000), gauge('g', 2, 2000)], { pipeline: 'p' });
    await sink.flush();
    await new Promise((res) => setTimeout(res, 150));
    expect(r.received).toHaveLength(1);
    expect(await metric(ctx, 'sinkFailed')).toBe(2);
    expect(await metric(ctx, 'sinkRetries')).toBe(0);
    await sink.stop();
  });

  it('honours Retry-After, and retries 429 only when allowed', async () => {
    const r = await receiver();
    r.script = [{ status: 429, headers: { 'retry-after': '1' } }];
    const ctx = testContext('rw');
    const sink = remoteWriteSink.create({ type: 'remote_write', url: r.url, queue: { ...fastQueue, retry_on_http_429: true } }, ctx);
    sink.write([gauge('g', 1, 1000)], { pipeline: 'p' });
    await waitFor(() => r.received.length === 2, 10_000, 'retry after 429');
    expect(r.received[1]!.at - r.received[0]!.at).toBeGreaterThanOrEqual(950);
    await sink.stop();

    const r2 = await receiver();
    r2.script = [{ status: 429 }];
    const ctx2 = testContext('rw2');
    const noRetry = remoteWriteSink.create({ type: 'remote_write', url: r2.url, queue: fastQueue }, ctx2);
    noRetry.write([gauge('g', 1, 1000)], { pipeline: 'p' });
    await noRetry.flush();
    expect(r2.received).toHaveLength(1);
    expect(await metric(ctx2, 'sinkFailed')).toBe(1);
    await noRetry.stop();
  });

  it('loses nothing during an outage within the queue bound, and counts drops exactly beyond it', async () => {
    const r = await receiver();
    const port = r.port;
    await r.stop();
    receivers.splice(receivers.indexOf(r), 1);
    const ctx = testContext('rw');
    const sink = remoteWriteSink.create({ type: 'remote_write', url: `http://127.0.0.1:${port}/api/v1/write`, queue: { ...fastQueue, capacity: 500, max_samples_per_send: 100 } }, ctx);
    // Receiver down: 800 samples arrive, 500 fit.
    for (let i = 0; i < 8; i++) sink.write(Array.from({ length: 100 }, (_, j) => gauge('g', i * 100 + j, 1000 + i * 100 + j)), { pipeline: 'p' });
    await new Promise((res) => setTimeout(res, 300));
    expect(await metric(ctx, 'sinkDropped', { reason: 'queue_full' })).toBe(300);
    expect(await metric(ctx, 'sinkRetries')).toBeGreaterThan(0);
    // Receiver back on the same port.
    const back = await new RemoteWriteReceiver().start(port);
    receivers.push(back);
    await sink.flush(Date.now() + 10_000);
    expect(back.samples().map((s) => s.value)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(await metric(ctx, 'sinkSent')).toBe(500);
    await sink.stop();
  });

  it('sends bearer tokens and extra headers, re-reading a token file per request', async () => {
    const r = await receiver();
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'pf-')), 'token');
    writeFileSync(file, 'first\n');
    const sink = remoteWriteSink.create({ type: 'remote_write', url: r.url, bearer_token_file: file, headers: { 'X-Scope-OrgID': 'tenant-a' }, queue: fastQueue }, testContext('rw'));
    sink.write([gauge('g', 1, 1000)], { pipeline: 'p' });
    await sink.flush();
    writeFileSync(file, 'second\n');
    sink.write([gauge('g', 2, 2000)], { pipeline: 'p' });
    await sink.flush();
    expect(r.received.map((x) => x.headers.authorization)).toEqual(['Bearer first', 'Bearer second']);
    expect(r.received[0]!.headers['x-scope-orgid']).toBe('tenant-a');
    await sink.stop();
  });

  it('decodes with the reference snappy block decoder', () => {
    const raw = snappy.uncompressSync(encodeWriteRequest(toWireSamples(gauge('a', 1, 2))), { asBuffer: true }) as Buffer;
    expect(raw.length).toBe(30);
  });
});

import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { otlpSink } from '../../sinks/otlp.js';
import { encodeExportRequest, encodeExportResponse } from '../../sinks/lib/otlp-encoder.js';
import { OtlpPointBuilder, unixNanos } from '../../sinks/lib/otlp-points.js';
import { OtlpReceiver } from '../helpers/otlp-receiver.js';
import { counter, gauge, hist, testContext } from '../helpers/samples.js';
import type { OtlpSinkConfig } from '../../schemas/types.generated.js';
import { PACKAGE_VERSION } from '../../engine/util/package-root.js';

const receivers: OtlpReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
});

async function receiver(): Promise<OtlpReceiver> {
  const r = await new OtlpReceiver().start();
  receivers.push(r);
  return r;
}

const fastQueue = { batch_send_deadline: '20ms', min_backoff: '20ms', max_backoff: '200ms' };
const proc = { pid: '4242', comm: 'api', exe: '/usr/bin/api', namespace: 'shop', pod: 'api-7d9', container: 'api' };

async function metric(ctx: ReturnType<typeof testContext>, name: 'sinkSent' | 'sinkFailed' | 'sinkRetries') {
  return (await ctx.metrics[name].get()).values.reduce((n, v) => n + v.value, 0);
}

function sink(r: OtlpReceiver, extra: Partial<OtlpSinkConfig> = {}, ctx = testContext('otlp')) {
  return { ctx, sink: otlpSink.create({ type: 'otlp', endpoint: r.url, queue: fastQueue, ...extra }, ctx) };
}

describe('otlp encoder', () => {
  it('writes nanosecond times exactly beyond 2^53', () => {
    expect(unixNanos(1_764_000_000_123)).toBe('1764000000123000000');
    expect(unixNanos(1_764_000_000_123.5)).toBe('1764000000123500000');
  });

  it('matches a golden byte vector (worked out by hand from the OTLP protobuf)', () => {
    const b = new OtlpPointBuilder({ host: 'h' });
    const bytes = encodeExportRequest(b.points(gauge('g', 1, 2)));
    // A length-delimited field: tag byte, varint length, body.
    const ld = (tag: string, body: string) => {
      let n = body.length / 2;
      let len = '';
      do {
        len += ((n & 0x7f) | (n > 0x7f ? 0x80 : 0)).toString(16).padStart(2, '0');
        n >>>= 7;
      } while (n > 0);
      return tag + len + body;
    };
    const text = (v: string) => Buffer.from(v).toString('hex');
    // KeyValue{1: key, 2: AnyValue{1: string_value}}, as Resource.attributes (field 1).
    const kv = (k: string, v: string) => ld('0a', ld('0a', text(k)) + ld('12', ld('0a', text(v))));
    const resource = ld('0a', kv('host.name', 'h') + kv('service.instance.id', 'h') + kv('service.name', 'probeflow'));
    const scope = ld('0a', ld('0a', text('probeflow')) + ld('12', text(PACKAGE_VERSION)));
    // NumberDataPoint{3: time 2 ms = 2e6 ns (fixed64), 4: 1.0 (double)}; Metric{1: "g", 5: Gauge{1: point}}.
    const point = '19' + '80841e0000000000' + '21' + '000000000000f03f';
    const metric = ld('12', ld('0a', text('g')) + ld('2a', ld('0a', point)));
    expect(bytes.toString('hex')).toBe(ld('0a', resource + ld('12', scope + metric)));
  });
});

describe('otlp sink against a decoding receiver', () => {
  it('posts gzip-compressed protobuf to the endpoint as given, with auth and extra headers', async () => {
    const r = await receiver();
    const { sink: s } = sink(r, { bearer_token: 'tok', headers: { 'x-scope-orgid': 'team-a' } });
    s.write([gauge('g', 1, 1000)], { pipeline: 'p' });
    await s.flush();
    const h = r.received[0]!.headers;
    expect([h['content-type'], h['content-encoding'], h.authorization, h['x-scope-orgid']]).toEqual(['application/x-protobuf', 'gzip', 'Bearer tok', 'team-a']);
    expect(h['user-agent']).toMatch(/^probeflow\//);
    expect(r.points().map((p) => p.point.as_double)).toEqual([1]);
    await s.stop();
  });

  it('compression: none sends the protobuf as it is', async () => {
    const r = await receiver();
    const { sink: s } = sink(r, { compression: 'none' });
    s.write([gauge('g', 1, 1000)], { pipeline: 'p' });
    await s.flush();
    expect(r.received[0]!.headers['content-encoding']).toBeUndefined();
    expect(r.points()).toHaveLength(1);
    await s.stop();
  });

  it('puts process and Kubernetes labels on the resource per the semantic conventions, the rest on the point', async () => {
    const r = await receiver();
    const { sink: s } = sink(r, { resource_attributes: { 'deployment.environment.name': 'prod' } });
    s.write([gauge('go_goroutines', 12, 1000, { ...proc, pipeline: 'go' }), counter('hits_total', 3, 1000, { probe: 'tp' })], { pipeline: 'p' });
    await s.flush();
    const [go, hits] = r.points();
    expect(go!.resource).toEqual({
      'process.pid': 4242,
      'process.executable.name': 'api',
      'process.executable.path': '/usr/bin/api',
      'k8s.namespace.name': 'shop',
      'k8s.pod.name': 'api-7d9',
      'k8s.container.name': 'api',
      'service.name': 'api',
      'service.instance.id': `${hostname()}:4242`,
      'host.name': hostname(),
      'deployment.environment.name': 'prod',
    });
    expect(go!.attributes).toEqual({ pipeline: 'go' });
    // Not a process's: the node's resource.
    expect(hits!.resource).toMatchObject({ 'service.name': 'probeflow', 'host.name': hostname() });
    expect(hits!.attributes).toEqual({ probe: 'tp' });
    await s.stop();
  });

  it('counters are monotonic cumulative sums whose start moves when the counter restarts; histograms keep per-bucket counts', async () => {
    const r = await receiver();
    const { sink: s } = sink(r);
    s.write([counter('c_total', 5, 1000, proc), hist('lat_seconds', [0.1, 1], [2, 3, 1], 2.5, 1000, proc)], { pipeline: 'p' });
    s.write([counter('c_total', 9, 2000, proc)], { pipeline: 'p' });
    s.write([counter('c_total', 2, 3000, proc)], { pipeline: 'p' }); // the process's counter restarted
    await s.flush();
    const cs = r.points().filter((p) => p.metric === 'c_total');
    expect(cs[0]!.sum).toEqual({ aggregation_temporality: 2, is_monotonic: true });
    expect(cs.map((p) => [p.point.as_double, p.point.start_time_unix_nano, p.point.time_unix_nano])).toEqual([
      [5, unixNanos(1000), unixNanos(1000)],
      [9, unixNanos(1000), unixNanos(2000)],
      [2, unixNanos(3000), unixNanos(3000)],
    ]);
    const h = r.points().find((p) => p.metric === 'lat_seconds')!;
    expect(h.shape).toBe('histogram');
    expect(h.point).toMatchObject({ count: '6', sum: 2.5, bucket_counts: ['2', '3', '1'], explicit_bounds: [0.1, 1] });
    await s.stop();
  });

  it('an ended series gets a point flagged "no recorded value" right after its last one', async () => {
    const r = await receiver();
    const { sink: s } = sink(r);
    s.write([{ ...gauge('g', 7, 1000, proc), ended: true as const }], { pipeline: 'p' });
    await s.flush();
    expect(r.points().map((p) => [p.point.as_double, p.point.flags, p.point.time_unix_nano])).toEqual([
      [7, undefined, unixNanos(1000)],
      [undefined, 1, unixNanos(1001)],
    ]);
    await s.stop();
  });

  it('retries 429, 502, 503 and 504, honouring Retry-After', async () => {
    const r = await receiver();
    r.script = [{ status: 429, headers: { 'retry-after': '1' } }, { status: 502 }, { status: 503 }, { status: 504 }];
    const { sink: s, ctx } = sink(r);
    s.write([gauge('g', 1, 1000)], { pipeline: 'p' });
    await s.flush(Date.now() + 10_000);
    expect(r.received.map((x) => x.status)).toEqual([429, 502, 503, 504, 200]);
    // Retry-After: 1 s between the 429 and the next attempt, not the 20 ms backoff.
    expect(r.received[1]!.at - r.received[0]!.at).toBeGreaterThanOrEqual(950);
    expect([await metric(ctx, 'sinkSent'), await metric(ctx, 'sinkRetries'), await metric(ctx, 'sinkFailed')]).toEqual([1, 4, 0]);
    await s.stop();
  });

  it.each([400, 401, 413, 500])('does not retry HTTP %i (the OTLP rules: 500 too, unlike remote_write)', async (status) => {
    const r = await receiver();
    r.script = [{ status }];
    const { sink: s, ctx } = sink(r);
    s.write([gauge('g', 1, 1000), gauge('h', 2, 1000)], { pipeline: 'p' });
    await s.flush();
    expect(r.received).toHaveLength(1);
    expect(await metric(ctx, 'sinkFailed')).toBe(2);
    await s.stop();
  });

  it('counts a partial success: the refused points failed, the rest sent, nothing sent again', async () => {
    const r = await receiver();
    r.script = [{ status: 200, headers: { 'content-type': 'application/x-protobuf' }, body: encodeExportResponse(2, 'two points had a bad name') }];
    const { sink: s, ctx } = sink(r);
    s.write([gauge('a', 1, 1000), gauge('b', 2, 1000), gauge('c', 3, 1000)], { pipeline: 'p' });
    await s.flush();
    expect(r.received).toHaveLength(1);
    expect([await metric(ctx, 'sinkSent'), await metric(ctx, 'sinkFailed')]).toEqual([1, 2]);
    await s.stop();
  });

  it('sends what is queued on stop (final values flushed on drain)', async () => {
    const r = await receiver();
    const { sink: s } = sink(r, { queue: { batch_send_deadline: '1h' } });
    s.write([counter('c_total', 5, 1000, proc)], { pipeline: 'p' });
    expect(r.received).toHaveLength(0);
    await s.stop();
    expect(r.points().map((p) => p.point.as_double)).toEqual([5]);
  });

  it('config check: 429 is not optional, and the endpoint is the full URL once', () => {
    const check = (c: Partial<OtlpSinkConfig>) => otlpSink.check!({ type: 'otlp', endpoint: 'http://c:4318/v1/metrics', ...c }, { baseDir: '.', writePolicy: undefined as never }).map((p) => p.path.join('.'));
    expect(check({ queue: { retry_on_http_429: true } })).toEqual(['queue.retry_on_http_429']);
    expect(check({ endpoint: 'http://c:4318/v1/metrics/v1/metrics' })).toEqual(['endpoint']);
    expect(check({})).toEqual([]);
  });
});

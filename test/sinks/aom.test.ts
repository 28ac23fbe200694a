import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { selfSignedCert } from '../helpers/tls.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aomEndpoints, aomSink } from '../../sinks/aom.js';
import { AOM_MAX_REQUEST_BYTES } from '../../sinks/lib/aom-metricdata.js';
import { decodeWriteRequest } from '../../sinks/lib/remote-write-encoder.js';
import { waitFor } from '../helpers/cli.js';
import { counter, gauge, hist, testContext, checkContext } from '../helpers/samples.js';

/**
 * AOM cannot run here: this server stands in for it on loopback over HTTPS, checks requests
 * against the documented contract (AOM API reference: "Adding Monitoring Data"; AOM user
 * guide: reporting Prometheus data with an access code) and answers as documented.
 */
const PROJECT = '0123456789abcdef0123456789abcdef';
const TOKEN = 'iam-token-abc';
const ACCESS_CODE = 'aom-access-code-xyz';

interface Seen {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function contractViolations(items: unknown): string[] {
  const problems: string[] = [];
  if (!Array.isArray(items) || items.length === 0) return ['body must be a non-empty JSON array'];
  const now = Date.now();
  for (const it of items as Record<string, any>[]) {
    if (!(it.collect_time >= now - 24 * 3600_000 && it.collect_time <= now + 30 * 60_000)) problems.push('collect_time out of window');
    const ns = it.metric?.namespace;
    if (typeof ns !== 'string' || !/^[A-Za-z][A-Za-z0-9_]*\.[A-Za-z0-9_]+$/.test(ns) || ns.length < 3 || ns.length > 32 || /^PAAS\./i.test(ns)) problems.push(`namespace ${ns}`);
    const dims = it.metric?.dimensions;
    if (!Array.isArray(dims) || dims.length === 0 || dims.length > 50) problems.push('dimensions count');
    for (const d of dims ?? []) if (!(d.name?.length >= 1 && d.name.length <= 32 && d.value?.length >= 1 && d.value.length <= 64)) problems.push(`dimension ${d.name}`);
    if (!Array.isArray(it.values) || it.values.length === 0) problems.push('values empty');
    for (const v of it.values ?? []) {
      if (!(v.metric_name?.length >= 1 && v.metric_name.length <= 255)) problems.push('metric_name');
      if (v.type !== 'int' && v.type !== 'float') problems.push('type');
      if (typeof v.value !== 'number' || v.value < 0) problems.push('value');
    }
  }
  return problems;
}

describe('aom sink (documented AOM contract, local HTTPS stand-in)', () => {
  let server: Server;
  let base: string;
  let ca: string;
  const seen: Seen[] = [];
  let failNext: number[] = [];

  beforeAll(async () => {
    const { dir } = selfSignedCert();
    ca = join(dir, 'cert.pem');
    server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(ca) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        seen.push({ path: req.url!, headers: req.headers, body });
        const json = (status: number, code: string, msg: string) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ errorCode: code, errorMessage: msg }));
        const forced = failNext.shift();
        if (forced) return json(forced, 'SVCSTG_AMS_5000000', 'Internal Server Error');
        if (req.url === `/v1/${PROJECT}/push`) {
          if (req.headers.authorization !== `Bearer ${ACCESS_CODE}`) return json(401, 'APIGW.0301', 'Incorrect IAM authentication information');
          return res.writeHead(204).end();
        }
        if (req.url === `/v1/${PROJECT}/ams/report/metricdata`) {
          if (req.headers['x-auth-token'] !== TOKEN) return json(401, 'APIGW.0301', 'Incorrect IAM authentication information');
          if (req.headers['content-type'] !== 'application/json') return json(400, 'SVCSTG_AMS_4000001', 'Invalid request parameter');
          if (body.length > AOM_MAX_REQUEST_BYTES) return json(400, 'SVCSTG_AMS_4000008', 'The request exceeds 40 KB');
          const problems = contractViolations(JSON.parse(body.toString()));
          if (problems.length) return json(400, 'SVCSTG_AMS_4000001', problems.join('; '));
          return json(200, 'SVCSTG_AMS_2000000', 'success');
        }
        json(404, 'APIGW.0101', 'The API does not exist or has not been published');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const metricdata = (extra: Record<string, unknown> = {}) => ({
    type: 'aom' as const,
    mode: 'metricdata' as const,
    project_id: PROJECT,
    url: base,
    token: TOKEN,
    namespace: 'probeflow.go',
    tls: { ca_file: ca },
    queue: { batch_send_deadline: '10ms', min_backoff: '10ms', max_backoff: '50ms' },
    ...extra,
  });

  it('builds the documented endpoints for a region', () => {
    expect(aomEndpoints('cn-north-4', PROJECT)).toEqual({
      push: `https://aom-access.cn-north-4.myhuaweicloud.com:8443/v1/${PROJECT}/push`,
      metricdata: `https://aom.cn-north-4.myhuaweicloud.com/v1/${PROJECT}/ams/report/metricdata`,
    });
  });

  it('mode prometheus: remote_write to /v1/{project_id}/push with the access code as bearer', async () => {
    seen.length = 0;
    const sink = aomSink.create({ type: 'aom', mode: 'prometheus', project_id: PROJECT, url: base, access_code: ACCESS_CODE, tls: { ca_file: ca }, queue: { batch_send_deadline: '10ms' } }, testContext('aom'));
    sink.write([hist('go_gc_pause_seconds', [0.001], [2, 1], 0.004, Date.now(), { pid: '1' })], { pipeline: 'p' });
    await sink.flush();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers['content-encoding']).toBe('snappy');
    expect(decodeWriteRequest(seen[0]!.body).timeseries.map((t) => t.labels.find((l) => l.name === '__name__')!.value)).toEqual([
      'go_gc_pause_seconds_bucket',
      'go_gc_pause_seconds_bucket',
      'go_gc_pause_seconds_sum',
      'go_gc_pause_seconds_count',
    ]);
    await sink.stop();
  });

  it('mode metricdata: the documented request, accepted with SVCSTG_AMS_2000000', async () => {
    seen.length = 0;
    const ctx = testContext('aom');
    const sink = aomSink.create(metricdata({ units: { go_sched_m_nonidle_count: 'count' } }), ctx);
    const now = Date.now();
    sink.write([gauge('go_sched_m_nonidle_count', 5, now, { pid: '42', pod: 'api-0' }), counter('go_gc_cycles_total', 12, now, { pid: '42' })], { pipeline: 'p' });
    await sink.flush();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers['x-auth-token']).toBe(TOKEN);
    expect(JSON.parse(seen[0]!.body.toString())).toEqual([
      { collect_time: now, metric: { namespace: 'probeflow.go', dimensions: [{ name: 'pid', value: '42' }, { name: 'pod', value: 'api-0' }] }, values: [{ metric_name: 'go_sched_m_nonidle_count', type: 'int', unit: 'count', value: 5 }] },
      { collect_time: now, metric: { namespace: 'probeflow.go', dimensions: [{ name: 'pid', value: '42' }] }, values: [{ metric_name: 'go_gc_cycles_total', type: 'int', value: 12 }] },
    ]);
    expect((await ctx.metrics.sinkSent.get()).values[0]!.value).toBe(2);
    await sink.stop();
  });

  it('drops, before sending, what AOM would refuse — and says why — while the rest goes out', async () => {
    seen.length = 0;
    const ctx = testContext('aom');
    const sink = aomSink.create(metricdata(), ctx);
    const now = Date.now();
    const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`l${i}`, 'v']));
    sink.write(
      [
        gauge('ok_metric', 1.5, now, { pid: '1' }),
        gauge('negative', -1, now, { pid: '1' }),
        gauge('too_many_dims', 1, now, many),
        gauge('long_value', 1, now, { exe: 'x'.repeat(65) }),
        gauge('stale', 1, now - 25 * 3600_000, { pid: '1' }),
        gauge('no_dims', 1, now),
      ],
      { pipeline: 'p' },
    );
    await sink.flush();
    expect(JSON.parse(seen[0]!.body.toString()).map((i: any) => i.values[0].metric_name)).toEqual(['ok_metric']);
    const dropped = await ctx.metrics.sinkDropped.get();
    expect(dropped.values.find((v) => v.labels.reason === 'invalid')!.value).toBe(5);
    await sink.stop();
  });

  it('splits requests under the 40 KB limit', async () => {
    seen.length = 0;
    const sink = aomSink.create(metricdata({ queue: { batch_send_deadline: '10ms', max_samples_per_send: 2000 } }), testContext('aom'));
    const now = Date.now();
    sink.write(Array.from({ length: 1500 }, (_, i) => gauge('go_goroutines', i, now, { pid: String(i), pod: 'p'.repeat(40) })), { pipeline: 'p' });
    await sink.flush();
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every((s) => s.body.length <= AOM_MAX_REQUEST_BYTES)).toBe(true);
    expect(seen.reduce((n, s) => n + JSON.parse(s.body.toString()).length, 0)).toBe(1500);
    await sink.stop();
  });

  it('a split batch whose second part fails is retried from that part: what AOM accepted is not sent again', async () => {
    seen.length = 0;
    failNext = [0, 500]; // the first request passes, the second gets a 500 once
    const ctx = testContext('aom');
    const sink = aomSink.create(metricdata({ queue: { batch_send_deadline: '10ms', max_samples_per_send: 2000, min_backoff: '10ms', max_backoff: '20ms' } }), ctx);
    const now = Date.now();
    sink.write(Array.from({ length: 1500 }, (_, i) => gauge('go_goroutines', i, now, { pid: String(i), pod: 'p'.repeat(40) })), { pipeline: 'p' });
    expect(await sink.flush()).toBe(true);
    const parts = seen.map((s) => (JSON.parse(s.body.toString()) as { metric: { dimensions: { name: string; value: string }[] } }[]).map((m) => m.metric.dimensions.find((d) => d.name === 'pid')!.value));
    expect(parts.length).toBeGreaterThan(2);
    // Sent: every part once, plus the failed part again. Before, the first part was sent twice too.
    const times = new Map<string, number>();
    for (const pid of parts.flat()) times.set(pid, (times.get(pid) ?? 0) + 1);
    expect(parts[0]!.every((pid) => times.get(pid) === 1)).toBe(true);
    expect(parts[1]!.every((pid) => times.get(pid) === 2)).toBe(true);
    expect(times.size).toBe(1500);
    expect((await ctx.metrics.sinkSent.get()).values[0]!.value).toBe(1500);
    await sink.stop();
  });

  it('retries a 500, and does not retry a refused token (401)', async () => {
    seen.length = 0;
    failNext = [500];
    const ctx = testContext('aom');
    const sink = aomSink.create(metricdata(), ctx);
    sink.write([gauge('g', 1, Date.now(), { pid: '1' })], { pipeline: 'p' });
    await waitFor(() => seen.length === 2, 5000, 'retry');
    await sink.flush();
    expect((await ctx.metrics.sinkSent.get()).values[0]!.value).toBe(1);
    await sink.stop();

    seen.length = 0;
    const ctx2 = testContext('aom2');
    const bad = aomSink.create(metricdata({ token: 'wrong' }), ctx2);
    bad.write([gauge('g', 1, Date.now(), { pid: '1' })], { pipeline: 'p' });
    await bad.flush();
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toHaveLength(1);
    expect((await ctx2.metrics.sinkFailed.get()).values[0]!.value).toBe(1);
    await bad.stop();
  });

  it('refuses configs AOM could not use, at validation', () => {
    const problems = (c: Record<string, unknown>) => aomSink.check!({ type: 'aom', project_id: PROJECT, region: 'cn-north-4', ...c } as never, checkContext()).map((p) => p.message);
    expect(problems({ mode: 'metricdata', token: 't', namespace: 'PAAS.x' })).toEqual(['the service part cannot be PAAS (reserved by AOM)']);
    expect(problems({ mode: 'prometheus' })).toEqual(['mode prometheus needs access_code (as ${AOM_ACCESS_CODE}) or access_code_file']);
    expect(problems({ mode: 'metricdata', token: 't' })).toEqual(['mode metricdata needs a namespace such as probeflow.go']);
    expect([...aomSink.accepts({ mode: 'metricdata' } as never)].sort()).toEqual(['counter', 'gauge']);
  });
});

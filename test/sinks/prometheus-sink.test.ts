import { readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { selfSignedCert } from '../helpers/tls.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prometheusSink } from '../../sinks/prometheus.js';
import { waitFor } from '../helpers/cli.js';
import { counter, gauge, hist, testContext } from '../helpers/samples.js';
import { freePort, promQuery, startPrometheus, type RunningServer } from '../helpers/servers.js';

describe('prometheus sink scraped by a real Prometheus 2.42', () => {
  let prom: RunningServer;
  let port: number;
  const ctx = testContext('prom');
  let sink: ReturnType<typeof prometheusSink.create>;

  beforeAll(async () => {
    port = await freePort();
    sink = prometheusSink.create({ type: 'prometheus', listen: `127.0.0.1:${port}`, series_ttl: '1m' }, ctx);
    await sink.start();
    prom = await startPrometheus([`127.0.0.1:${port}`]);
  });
  afterAll(async () => {
    await prom?.stop();
    await sink?.stop();
  });

  it('serves values that PromQL reads back, histograms included', async () => {
    const now = Date.now();
    sink.write(
      [
        counter('probeflow_test_calls_total', 1234, now, { pid: '42', comm: 'api' }),
        gauge('probeflow_test_queue', 7.5, now, { p: '1' }),
        hist('probeflow_test_pause_seconds', [0.001, 0.01], [3, 4, 1], 0.02, now, { pid: '42' }),
      ],
      { pipeline: 'p' },
    );
    let calls: Awaited<ReturnType<typeof promQuery>> = [];
    await waitFor(() => {
      void promQuery(prom.url, 'probeflow_test_calls_total').then((r) => (calls = r), () => {});
      return calls.length > 0;
    }, 20_000, 'Prometheus to scrape');
    expect(calls[0]!.metric).toMatchObject({ __name__: 'probeflow_test_calls_total', pid: '42', comm: 'api', job: 'probeflow' });
    expect(calls[0]!.value![1]).toBe('1234');
    expect((await promQuery(prom.url, 'probeflow_test_queue'))[0]!.value![1]).toBe('7.5');
    const buckets = await promQuery(prom.url, 'probeflow_test_pause_seconds_bucket');
    expect(Object.fromEntries(buckets.map((b) => [b.metric.le, b.value![1]]))).toEqual({ '0.001': '3', '0.01': '7', '+Inf': '8' });
    expect((await promQuery(prom.url, 'histogram_quantile(0.5, probeflow_test_pause_seconds_bucket)'))[0]!.value![1]).not.toBe('NaN');
    // The engine's own metrics are on the same endpoint.
    expect((await promQuery(prom.url, 'probeflow_build_info'))[0]!.metric.version).toMatch(/\d+\.\d+\.\d+/);
    expect((await promQuery(prom.url, 'up'))[0]!.value![1]).toBe('1');
  });

  it('negotiates OpenMetrics, and answers /healthz, /readyz and unknown paths', async () => {
    const om = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    expect(om.headers.get('content-type')).toMatch(/^application\/openmetrics-text; version=1.0.0/);
    expect(await om.text()).toMatch(/\n# EOF\n$/);
    const text = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(text.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    const notFound = await fetch(`http://127.0.0.1:${port}/nope`);
    expect(notFound.status).toBe(404);
    expect(await notFound.text()).toContain('metrics are at /metrics');
  });
});

describe('prometheus sink options', () => {
  it('requires basic auth when configured, and a Prometheus with the credentials scrapes it', async () => {
    const port = await freePort();
    const sink = prometheusSink.create({ type: 'prometheus', listen: `127.0.0.1:${port}`, basic_auth: { username: 'scraper', password: 's3cret' } }, testContext('auth'));
    await sink.start();
    const prom = await startPrometheus([`127.0.0.1:${port}`], { basicAuth: { username: 'scraper', password: 's3cret' } });
    try {
      sink.write([gauge('probeflow_test_authed', 1, Date.now())], { pipeline: 'p' });
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(401);
      const good = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Basic ${Buffer.from('scraper:s3cret').toString('base64')}` } });
      expect(good.status).toBe(200);
      let r: Awaited<ReturnType<typeof promQuery>> = [];
      await waitFor(() => {
        void promQuery(prom.url, 'probeflow_test_authed').then((x) => (r = x), () => {});
        return r.length > 0;
      }, 20_000, 'authenticated scrape');
    } finally {
      await prom.stop();
      await sink.stop();
    }
  });

  it('serves HTTPS with the configured certificate', async () => {
    const { dir } = selfSignedCert();
    const port = await freePort();
    const sink = prometheusSink.create({ type: 'prometheus', listen: `127.0.0.1:${port}`, tls: { cert_file: join(dir, 'cert.pem'), key_file: join(dir, 'key.pem') } }, testContext('tls'));
    await sink.start();
    sink.write([gauge('probeflow_test_tls', 3, Date.now())], { pipeline: 'p' });
    try {
      const body = await new Promise<string>((resolve, reject) =>
        httpsGet(`https://127.0.0.1:${port}/metrics`, { ca: readFileSync(join(dir, 'cert.pem')) }, (res) => {
          let b = '';
          res.on('data', (d) => (b += d));
          res.on('end', () => resolve(b));
        }).on('error', reject),
      );
      expect(body).toContain('probeflow_test_tls 3');
    } finally {
      await sink.stop();
    }
  });

  it('gzips the exposition when the scraper accepts it, and only then', async () => {
    const port = await freePort();
    const sink = prometheusSink.create({ type: 'prometheus', listen: `127.0.0.1:${port}`, self_metrics: false }, testContext('gzip'));
    await sink.start();
    const now = Date.now();
    sink.write(Array.from({ length: 2000 }, (_, i) => gauge('probeflow_test_gzipped', i, now, { pid: String(i) })), { pipeline: 'p' });
    const raw = (encoding?: string) =>
      new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) =>
        httpGet(`http://127.0.0.1:${port}/metrics`, { headers: encoding ? { 'accept-encoding': encoding } : {} }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        }).on('error', reject),
      );
    try {
      const plain = await raw();
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.headers.vary).toBe('Accept-Encoding');
      const zipped = await raw('gzip, deflate');
      expect(zipped.headers['content-encoding']).toBe('gzip');
      expect(gunzipSync(zipped.body).toString()).toBe(plain.body.toString());
      expect(zipped.body.length).toBeLessThan(plain.body.length / 4);
      expect((await raw('gzip;q=0, identity')).headers['content-encoding']).toBeUndefined();
      expect((await raw('*')).headers['content-encoding']).toBe('gzip');
    } finally {
      await sink.stop();
    }
  });

  it('streams a scrape of many pieces whole, and goes on serving after a scraper hangs up mid-body', async () => {
    const port = await freePort();
    const sink = prometheusSink.create({ type: 'prometheus', listen: `127.0.0.1:${port}`, self_metrics: false }, testContext('stream'));
    await sink.start();
    const now = Date.now();
    const n = 30_000;
    sink.write(Array.from({ length: n }, (_, i) => gauge(`probeflow_test_streamed_${i % 3}`, i, now, { pid: String(i), comm: 'api' })), { pipeline: 'p' });
    const body = async (headers: Record<string, string> = {}) => {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers });
      return res.text();
    };
    try {
      const text = await body();
      // ~1.2 MB: many 64 KiB pieces.
      expect(text.length).toBeGreaterThan(1_000_000);
      const values = new Map(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => [/pid="(\d+)"/.exec(l)![1], l]));
      expect(values.size).toBe(n);
      for (const i of [0, 1, 12_345, n - 1]) expect(values.get(String(i))).toBe(`probeflow_test_streamed_${i % 3}{comm="api",pid="${i}"} ${i}`);
      // fetch undoes gzip itself: the same text either way.
      expect(await body({ 'accept-encoding': 'gzip' })).toBe(text);
      await new Promise<void>((resolve, reject) => {
        const req = httpGet(`http://127.0.0.1:${port}/metrics`, (res) => res.once('data', () => (req.destroy(), resolve())));
        req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
      });
      expect(await body()).toBe(text);
    } finally {
      await sink.stop();
    }
  });

  it('says which address is taken when the port is in use', async () => {
    const port = await freePort();
    const a = prometheusSink.create({ type: 'prometheus', listen: `127.0.0.1:${port}` }, testContext('a'));
    await a.start();
    const b = prometheusSink.create({ type: 'prometheus', listen: `127.0.0.1:${port}` }, testContext('b'));
    await expect(b.start()).rejects.toThrow(`listen 127.0.0.1:${port}: address already in use; pick another port with listen:`);
    await a.stop();
  });
});

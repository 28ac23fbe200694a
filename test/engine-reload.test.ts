import { mkdtempSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from '../engine/components/registry.js';
import { ConfigLoader } from '../engine/config/load-config.js';
import { Engine, ReloadError } from '../engine/runtime/engine.js';
import { silentLogger } from '../engine/util/log.js';
import { builtinProbes } from '../probes/index.js';
import { builtinSinks } from '../sinks/index.js';
import { builtinStages } from '../stages/index.js';
import { waitFor } from './helpers/cli.js';
import { freePort } from './helpers/servers.js';
import { countingStage, hangingSink, throwingStage } from './helpers/test-components.js';

/** The engine's reload rules, in process, with real sinks on real ports where ports matter. */
const seen = new Map<string, number>();
const hung = { flushDeadlines: [] as (number | undefined)[], writes: [] as unknown[] };
const registry = new Registry().register(...builtinProbes, ...builtinStages, ...builtinSinks, countingStage(seen), throwingStage(), hangingSink(hung as never));
const dir = mkdtempSync(join(tmpdir(), 'pf-engine-reload-'));
let n = 0;
const load = (yaml: string) => {
  const file = join(dir, `p${n++}.yaml`);
  writeFileSync(file, yaml);
  return new ConfigLoader(registry).load(file).topology;
};
const engines: Engine[] = [];
const engine = () => {
  const e = new Engine(registry, silentLogger);
  engines.push(e);
  return e;
};
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.stop(2000)));
  seen.clear();
});

const up = async (e: Engine) => Object.fromEntries((await e.metrics.componentUp.get()).values.map((v) => [`${v.labels.kind}:${v.labels.id}`, v.value]));
/** Until the endpoint serves the synthetic counter. */
async function hasData(port: number): Promise<void> {
  const end = Date.now() + 5000;
  while (!/demo_total \d+/.test(await (await get(port)).text())) {
    if (Date.now() > end) throw new Error('no demo_total on the endpoint');
    await new Promise((r) => setTimeout(r, 20));
  }
}
/**
 * A scrape on a new connection, gzip accepted, as Prometheus asks. Not fetch(): its pool
 * reuses a keep-alive connection the stopped sink closed, and a request racing that close
 * fails in the client (Go's transport, Prometheus's, retries such a GET; undici does not).
 */
const get = (port: number, headers: Record<string, string> = {}) =>
  new Promise<Response>((resolve, reject) => {
    const req = httpGet(`http://127.0.0.1:${port}/metrics`, { agent: false, timeout: 3000, headers: { 'accept-encoding': 'gzip', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve(new Response(res.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body, { status: res.statusCode! }));
      });
    });
    req.on('timeout', () => req.destroy(new Error('scrape timed out')));
    req.on('error', reject);
  });

const promConfig = (port: number, sinkExtra = '') => `
probes:
  p: { type: synthetic, interval: 50ms, series: [{ name: demo_total, kind: counter, value: { constant: 1 } }] }
sinks:
  prom: { type: prometheus, listen: "127.0.0.1:${port}"${sinkExtra} }
pipelines:
  a: { inputs: [p], sinks: [prom] }
`;

describe('engine reload', () => {
  it('changes a prometheus sink option on the same port: handed over, applied, component_up stays 1', async () => {
    const port = await freePort();
    const e = engine();
    await e.start(load(promConfig(port)));
    expect((await get(port)).status).toBe(200);
    const changes = await e.apply(load(promConfig(port, ', basic_auth: { username: u, password: p }')));
    expect(changes.changed).toContain('sink:prom');
    // The new option took effect on the same port.
    expect((await get(port)).status).toBe(401);
    expect((await get(port, { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` })).status).toBe(200);
    expect(await up(e)).toEqual({ 'probe:p': 1, 'sink:prom': 1 });
  });

  it('refuses a sink that cannot start with the cause, and keeps the running one serving and up', async () => {
    const [port, taken] = [await freePort(), await freePort()];
    const blocker = createServer().listen(taken, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      const e = engine();
      await e.start(load(promConfig(port)));
      await expect(e.apply(load(promConfig(taken)))).rejects.toThrow(/sink "prom" \(prometheus\) could not start: listen 127\.0\.0\.1:\d+: address already in use.*; the running configuration is kept/);
      expect((await get(port)).status).toBe(200);
      expect(await up(e)).toEqual({ 'probe:p': 1, 'sink:prom': 1 });
    } finally {
      blocker.close();
    }
  });

  it('puts the old sink back on its port when the replacement fails after the handover', async () => {
    const port = await freePort();
    const e = engine();
    await e.start(load(promConfig(port)));
    await hasData(port);
    // Same port, so the old sink is stopped first; the new one fails (no such certificate).
    await expect(e.apply(load(promConfig(port, ', tls: { cert_file: /nonexistent/cert.pem, key_file: /nonexistent/key.pem }')))).rejects.toThrow(
      /sink "prom" \(prometheus\) could not start: .*ENOENT.*cert\.pem.*the running configuration is kept/,
    );
    const res = await get(port);
    expect(res.status).toBe(200);
    // The old sink kept its series store: data from before the refused reload is still there.
    expect(await res.text()).toMatch(/demo_total \d+/);
    expect(await up(e)).toEqual({ 'probe:p': 1, 'sink:prom': 1 });
  });

  it('keeps component_up for a changed component (same type) at 1, and removes it for a removed one', async () => {
    const e = engine();
    const cfg = (interval: string, extra = '') => `
probes:
  p: { type: synthetic, interval: ${interval}, series: [{ name: x, kind: gauge, value: { constant: 1 } }] }
${extra}sinks:
  out: { type: stdout, stream: stderr }
pipelines:
  a: { inputs: [p], sinks: [out] }
`;
    await e.start(load(cfg('1s', '  q: { type: synthetic, series: [{ name: y, kind: gauge, value: { constant: 1 } }] }\n')));
    expect(await up(e)).toEqual({ 'probe:p': 1, 'probe:q': 1, 'sink:out': 1 });
    await e.apply(load(cfg('2s')));
    expect(await up(e)).toEqual({ 'probe:p': 1, 'sink:out': 1 });
  });

  it('rebuilds a downstream pipeline when its upstream is rebuilt, so upstream stages run once per batch', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const cfg = (upPort: number, downPort: number) => `
probes:
  p: { type: synthetic, interval: 20ms, series: [{ name: x, kind: counter, value: { constant: 1 } }] }
sinks:
  prom: { type: prometheus, listen: "127.0.0.1:${upPort}" }
  out: { type: prometheus, listen: "127.0.0.1:${downPort}" }
pipelines:
  up: { inputs: [p], stages: [{ type: count, tag: up }], sinks: [prom] }
  down: { inputs: [up], stages: [{ type: count, tag: down }], sinks: [out] }
`;
    const e = engine();
    await e.start(load(cfg(p1, p2)));
    // Swap the ports: "up"'s sink changes, "down"'s own config does not.
    const changes = await e.apply(load(cfg(p2, p1)));
    expect(changes.changed).toEqual(expect.arrayContaining(['pipeline:up', 'pipeline:down']));
    seen.clear();
    await waitFor(() => (seen.get('down') ?? 0) >= 10, 5000, 'ten batches downstream');
    // Before the fix the old upstream chain kept running for "down": twice the upstream count.
    const ratio = seen.get('up')! / seen.get('down')!;
    expect(ratio).toBeGreaterThan(0.8);
    expect(ratio).toBeLessThan(1.25);
  });

  it('contains a stage that throws on one batch: counted, and the pipeline goes on', async () => {
    const port = await freePort();
    const e = engine();
    await e.start(
      load(`
probes:
  p: { type: synthetic, interval: 20ms, series: [{ name: x, kind: counter, value: { constant: 1 } }] }
sinks:
  prom: { type: prometheus, listen: "127.0.0.1:${port}" }
pipelines:
  a: { inputs: [p], stages: [{ type: throw_once, fail_on: 2 }, { type: count, tag: after }], sinks: [prom] }
`),
    );
    await waitFor(() => (seen.get('after') ?? 0) >= 5, 5000, 'batches after the failed one');
    const errors = (await e.metrics.componentErrors.get()).values;
    expect(errors).toContainEqual(expect.objectContaining({ labels: { kind: 'stage', id: 'a.stages[0]' }, value: 1 }));
  });

  it('stop drains by one deadline: a flush that hangs gets the deadline and does not hold the stop', async () => {
    const e = new Engine(registry, silentLogger);
    await e.start(
      load(`
probes:
  p: { type: synthetic, interval: 20ms, series: [{ name: x, kind: counter, value: { constant: 1 } }] }
sinks:
  stuck: { type: hang }
pipelines:
  a: { inputs: [p], sinks: [stuck] }
`),
    );
    hung.flushDeadlines.length = 0;
    const t0 = Date.now();
    const drained = await e.stop(300);
    expect(drained).toBe(false);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(hung.flushDeadlines).toHaveLength(1);
    expect(hung.flushDeadlines[0]).toBeGreaterThanOrEqual(t0 + 300);
    expect(hung.flushDeadlines[0]).toBeLessThanOrEqual(t0 + 400);
  });

  it('a reload that arrives while stopping is refused; one in progress finishes before stop tears down', async () => {
    const port = await freePort();
    const e = new Engine(registry, silentLogger);
    await e.start(load(promConfig(port)));
    const reloading = e.apply(load(promConfig(port, ', series_ttl: 1m')));
    const stopping = e.stop(2000);
    const late = e.apply(load(promConfig(port, ', series_ttl: 2m')));
    await expect(reloading).resolves.toBeDefined();
    await expect(late).rejects.toThrow(ReloadError);
    await expect(late).rejects.toThrow(/stopping/);
    expect(await stopping).toBe(true);
    // Nothing was connected after stop walked the set: the port is free again.
    await expect(get(port)).rejects.toThrow();
  });

  it('two sinks claiming one port are refused as a config, before anything starts', async () => {
    const port = await freePort();
    const e = engine();
    const bad = promConfig(port).replace('pipelines:', `  prom2: { type: prometheus, listen: ":${port}" }\npipelines:`).replace('sinks: [prom]', 'sinks: [prom, prom2]');
    await expect(e.start(load(bad))).rejects.toThrow(new RegExp(`sinks "prom" and "prom2" both claim tcp:${port}: give each its own; nothing was started`));
  });
});

/**
 * One side of bench/series-scale.ts, in a process of its own so its RSS is its own: holds
 * `n` gauge series in probeflow's Prometheus sink or in prom-client, serves them on a port,
 * and reports its update times and memory to the parent over IPC.
 *   node --expose-gc --import tsx bench/series-scale-worker.ts probeflow|prom-client <n> <port>
 */
import { createServer } from 'node:http';
import { Gauge, Registry } from 'prom-client';
import type { GaugeSample } from '../engine/model/sample.js';
import { prometheusSink } from '../sinks/prometheus.js';
import { benchContext } from './lib.js';

const [impl, nArg, portArg] = process.argv.slice(2);
const n = Number(nArg);
const port = Number(portArg);
const NAMES = 50;
const gc = () => (globalThis as { gc?: () => void }).gc?.();

// What a node with many processes produces: 50 metric names, n / 50 processes, 3 labels.
const labels = Array.from({ length: n / NAMES }, (_, i) => ({ pid: String(10_000 + i), comm: 'api-server', pod: `api-7d9f-${i % 97}` }));
const read = (r: number): GaugeSample[] =>
  Array.from({ length: n }, (_, i) => ({ kind: 'gauge', name: `go_metric_${i % NAMES}`, labels: labels[Math.floor(i / NAMES)]!, timestamp: 1_000 + r, value: i + r }));
const reads = [read(0), read(1), read(2)];

gc();
const rssBefore = process.memoryUsage().rss;

type Update = (batch: readonly GaugeSample[]) => void;
let update: Update;
if (impl === 'probeflow') {
  const sink = prometheusSink.create({ type: 'prometheus', listen: `127.0.0.1:${port}`, self_metrics: false }, benchContext('prom'));
  await sink.start();
  update = (batch) => sink.write(batch, { pipeline: 'bench' });
} else if (impl === 'prom-client') {
  // What a user would write with prom-client: one Gauge per name, set per labelled series.
  const registry = new Registry();
  const gauges = new Map<string, Gauge>();
  for (let i = 0; i < NAMES; i++) gauges.set(`go_metric_${i}`, new Gauge({ name: `go_metric_${i}`, help: 'bench', labelNames: ['pid', 'comm', 'pod'], registers: [registry] }));
  update = (batch) => {
    for (const s of batch) gauges.get(s.name)!.set(s.labels, s.value);
  };
  const server = createServer((_req, res) => {
    registry.metrics().then((body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
} else throw new Error(`unknown implementation ${impl}: probeflow or prom-client`);

const timed = (f: () => void) => {
  const t = performance.now();
  f();
  return performance.now() - t;
};
const firstUpdate = timed(() => update(reads[0]!));
const updates = [timed(() => update(reads[1]!)), timed(() => update(reads[2]!))];
process.send!({ ready: true, firstUpdate, update: Math.min(...updates) });
process.on('message', (m: string) => {
  if (m === 'memory') {
    const rssNow = process.memoryUsage().rss;
    gc();
    process.send!({ rssGrowth: rssNow - rssBefore, rssGrowthAfterGc: process.memoryUsage().rss - rssBefore });
  } else process.exit(0);
});

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../engine/util/package-root.js';
import { waitFor } from './cli.js';
import { requireTool } from './require-tool.js';

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function ready(url: string, child: ChildProcess, what: string, logs: () => string): Promise<void> {
  let ok = false;
  const poll = async () => {
    try {
      ok = (await fetch(url)).ok;
    } catch {
      ok = false;
    }
  };
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`${what} exited: ${logs().slice(-2000)}`);
      void poll();
      return ok;
    },
    30_000,
    `${what} to be ready`,
  );
}

export interface RunningServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

function track(child: ChildProcess) {
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  return () => out;
}

function stopper(child: ChildProcess) {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
}

/**
 * A receiver newer than bookworm's, from trixie (scripts/fetch-otlp-receivers.sh puts them in
 * .cache/receivers): VictoriaMetrics 1.112 takes OTLP (bookworm's 1.79 does not).
 */
export function trixieReceiver(name: 'victoria-metrics'): string {
  const path = join(PACKAGE_ROOT, '.cache', 'receivers', 'trixie', 'usr', 'bin', name);
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`bash scripts/fetch-otlp-receivers.sh\` (scripts/setup.sh does); this test needs the real receiver`);
  return path;
}

/** Debian's Prometheus on loopback, temp storage, remote-write receiver on, scraping `scrapeTargets`. */
export async function startPrometheus(scrapeTargets: string[] = [], extra: { basicAuth?: { username: string; password: string } } = {}): Promise<RunningServer> {
  requireTool('prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'probeflow-prom-'));
  const port = await freePort();
  const auth = extra.basicAuth ? `    basic_auth: { username: ${extra.basicAuth.username}, password: ${extra.basicAuth.password} }\n` : '';
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: probeflow\n${auth}    static_configs:\n      - targets: [${scrapeTargets.map((t) => `"${t}"`).join(', ')}]\n`,
  );
  const child = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-remote-write-receiver', '--storage.tsdb.retention.time=1d'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs = track(child);
  const url = `http://127.0.0.1:${port}`;
  await ready(`${url}/-/ready`, child, 'prometheus', logs);
  return { url, port, stop: stopper(child) };
}

/** Debian's VictoriaMetrics single-node on loopback with temp storage. */
export async function startVictoriaMetrics(extra: { binary?: string; flags?: string[] } = {}): Promise<RunningServer> {
  if (!extra.binary) requireTool('victoria-metrics');
  const dir = mkdtempSync(join(tmpdir(), 'probeflow-vm-'));
  const port = await freePort();
  const child = spawn(extra.binary ?? 'victoria-metrics', [`-storageDataPath=${dir}`, `-httpListenAddr=127.0.0.1:${port}`, '-retentionPeriod=1d', '-search.latencyOffset=0s', ...(extra.flags ?? [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs = track(child);
  const url = `http://127.0.0.1:${port}`;
  await ready(`${url}/health`, child, 'victoria-metrics', logs);
  return { url, port, stop: stopper(child) };
}

export async function promQuery(base: string, query: string, time?: number): Promise<{ metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[]> {
  const params = new URLSearchParams({ query, ...(time ? { time: String(time) } : {}) });
  const res = (await (await fetch(`${base}/api/v1/query?${params}`)).json()) as { status: string; data: { result: never[] }; error?: string };
  if (res.status !== 'success') throw new Error(`query ${query}: ${res.error}`);
  return res.data.result;
}

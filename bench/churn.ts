/**
 * A node's churn, end to end: the agent (CLI) with the shipped go_runtime probe options on 50
 * distinct Go binaries × 4 processes; then 25 binaries' processes exit while 25 new binaries
 * start. Measured from outside, by scraping /metrics every 10 ms: how soon a new process has
 * series, how soon an exited one's are gone, the scrape latency during the churn; then a reload
 * that changes only the sink (links kept? how long?) and SIGTERM → exit.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { parse } from 'yaml';
import { BpfObject, bundledObjectPath } from '../engine/bpf/bpf-object.js';
import { buildGo } from '../test/helpers/workloads.js';
import { ROOT, sleep, table } from './lib.js';

/** Epoch milliseconds with sub-ms precision: the scraper thread's clock and ours agree. */
const now = () => performance.timeOrigin + performance.now();
const progress = (what: string) => process.stderr.write(`bench churn: ${what}\n`);

const BINARIES = 50;
const PER_BINARY = 4;
const CHURNED = 25;
/** The reloader's debounce (engine/runtime/reloader.ts): every reload request waits this long for more. */
const COALESCE_MS = 100;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
};
const ms = (v: number) => `${v.toFixed(0)} ms`;

/** Link ids of the go_runtime program, as the kernel lists them. */
function goLinkIds(): number[] {
  const progs = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' })) as { id: number; name?: string }[];
  const ids = new Set(progs.filter((p) => p.name === 'on_go').map((p) => p.id));
  return (JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' })) as { id: number; prog_id: number }[])
    .filter((l) => ids.has(l.prog_id))
    .map((l) => l.id)
    .sort((a, b) => a - b);
}

export async function churnCost(): Promise<string> {
  const shipped = (parse(readFileSync(join(ROOT, 'pipelines', 'go-runtime.yaml'), 'utf8')) as { probes: { go: Record<string, unknown> } }).probes.go;
  const go = buildGo('stripped');
  const dir = mkdtempSync(join(tmpdir(), 'pf-bench-churn-'));
  const bins = Array.from({ length: BINARIES + CHURNED }, (_, i) => {
    const b = join(dir, `svc${i}`);
    copyFileSync(go, b); // each copy its own inode: a binary of its own
    return b;
  });
  const procs = new Map<number, { child: ChildProcess; bin: number; started: number }>();
  const start = (bin: number) => {
    const child = spawn(bins[bin]!, ['1'], { stdio: ['pipe', 'ignore', 'ignore'] });
    procs.set(child.pid!, { child, bin, started: now() });
    return child.pid!;
  };
  for (let b = 0; b < BINARIES; b++) for (let i = 0; i < PER_BINARY; i++) start(b);

  const port = 19100;
  const http = 19101;
  const file = join(dir, 'pipeline.yaml');
  const config = (ttl: string) => `probes:
  go: { type: go_runtime, target: { exe: "${dir}/svc*" }, alloc_mode: ${shipped.alloc_mode}, interval: ${shipped.interval}, rescan: ${shipped.rescan} }
sinks:
  scrape: { type: prometheus, listen: "127.0.0.1:${port}", series_ttl: ${ttl} }
pipelines:
  go_runtime: { inputs: [go], sinks: [scrape], max_series: 50000 }
`;
  writeFileSync(file, config('5m'));
  progress(`agent on ${BINARIES} Go binaries × ${PER_BINARY} processes (interval ${shipped.interval}, rescan ${shipped.rescan})`);
  const agent = spawn('node', [...(process.env.BENCH_AGENT_NODE_ARGS?.split(' ').filter(Boolean) ?? []), join(ROOT, 'bin', 'probeflow.js'), 'run', '-c', file, '--log-format', 'json', '--http-listen', `127.0.0.1:${http}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  agent.stderr!.on('data', (d) => (log += d));

  // The scraper runs on a thread of its own: the spawns and kills of this bench must not delay
  // it (spawn() forks this whole process), or their cost would be counted as the agent's.
  const scraper = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     let scraping = true;
     parentPort.on('message', () => (scraping = false));
     (async () => {
       while (scraping) {
         const t = performance.timeOrigin + performance.now();
         const text = await fetch(workerData.url).then((r) => r.text()).catch(() => undefined); // the reload closes scrapes in flight
         const done = performance.timeOrigin + performance.now();
         if (text !== undefined) {
           const pids = [...text.matchAll(/^go_info\\{[^}]*pid="(\\d+)"/gm)].map((m) => Number(m[1]));
           parentPort.postMessage({ t, done, pids });
         }
         await new Promise((r) => setTimeout(r, 10));
       }
       parentPort.postMessage('end');
     })();`,
    { eval: true, workerData: { url: `http://127.0.0.1:${port}/metrics` } },
  );
  const firstSeen = new Map<number, number>();
  const lastSeen = new Map<number, number>();
  const latencies: { at: number; ms: number }[] = [];
  const scraped = new Promise<void>((resolve) =>
    scraper.on('message', (m: 'end' | { t: number; done: number; pids: number[] }) => {
      if (m === 'end') return resolve();
      // Worker clocks are epoch-based; ours are too from here on (now()).
      latencies.push({ at: m.t, ms: m.done - m.t });
      for (const pid of m.pids) {
        if (!firstSeen.has(pid)) firstSeen.set(pid, m.done);
        lastSeen.set(pid, m.t); // the scrape started while the series was still there
      }
    }),
  );
  const stopScraping = async () => {
    scraper.postMessage('stop');
    await scraped;
    await scraper.terminate();
  };
  const initial = [...procs.keys()];
  const fail = (why: string) => {
    void stopScraping();
    agent.kill('SIGKILL');
    for (const p of procs.values()) p.child.kill('SIGKILL');
    return new Error(why);
  };
  for (const end = now() + 120_000; initial.some((p) => !firstSeen.has(p)); await sleep(100)) {
    if (agent.exitCode !== null || now() > end) throw fail(`agent: ${initial.filter((p) => firstSeen.has(p)).length} of ${initial.length} processes have series (exit ${agent.exitCode}): ${log.slice(-1500)}`);
  }
  const startup = Math.max(...initial.map((p) => firstSeen.get(p)! - procs.get(p)!.started));
  await sleep(1000);

  progress(`churn: ${CHURNED} binaries' processes exit, ${CHURNED} new binaries start`);
  const churnStart = now();
  const exited: { pid: number; at: number }[] = [];
  const fresh: number[] = [];
  for (let b = 0; b < CHURNED; b++) {
    for (const [pid, p] of procs) {
      if (p.bin !== b) continue;
      p.child.kill('SIGKILL');
      exited.push({ pid, at: now() });
    }
    for (let i = 0; i < PER_BINARY; i++) fresh.push(start(BINARIES + b));
    await sleep(20);
  }
  for (const end = now() + 30_000; fresh.some((p) => !firstSeen.has(p)) && now() < end; ) await sleep(50);
  await sleep(1000);
  const churnEnd = now();
  const toSeries = fresh.map((p) => (firstSeen.get(p) ?? Infinity) - procs.get(p)!.started);
  const linger = exited.map((e) => Math.max(0, (lastSeen.get(e.pid) ?? 0) - e.at));
  const during = latencies.filter((l) => l.at >= churnStart && l.at <= churnEnd).map((l) => l.ms);

  progress('reload changing only the sink option series_ttl (the probe unchanged)');
  const linksBefore = goLinkIds();
  writeFileSync(file, config('4m'));
  const r0 = now();
  const reload = await fetch(`http://127.0.0.1:${http}/-/reload`, { method: 'POST' }).then((r) => r.text());
  const reloadMs = now() - r0;
  await sleep(500);
  const linksAfter = goLinkIds();
  const kept = linksBefore.length > 0 && JSON.stringify(linksBefore) === JSON.stringify(linksAfter);

  await stopScraping();
  progress('SIGTERM');
  const t0 = now();
  agent.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => agent.once('exit', (c) => r(c)));
  const exitMs = now() - t0;
  for (const p of procs.values()) p.child.kill('SIGKILL');

  const rows = [
    [`start: agent start-up until all ${BINARIES} binaries × ${PER_BINARY} processes have series (the slowest, from its spawn before the agent)`, ms(startup)],
    [`churn: a new process's series (from spawn; p50 / max of ${fresh.length})`, `${ms(pct(toSeries, 0.5))} / ${ms(Math.max(...toSeries))}`],
    [`churn: an exited process's series still scraped after its kill (max of ${exited.length})`, `${ms(Math.max(...linger))}`],
    [`churn: scrape latency p50 / p99 / max (${during.length} scrapes)`, `${ms(pct(during, 0.5))} / ${ms(pct(during, 0.99))} / ${ms(Math.max(...during))}`],
    [`reload, sink option changed (POST /-/reload round trip, ${COALESCE_MS} ms of it the coalescing window)`, `${ms(reloadMs)}; ${linksAfter.length} links ${kept ? 'kept (ids equal)' : `NOT kept (${linksBefore.length} → ${linksAfter.length})`}; kept: ${(JSON.parse(reload) as { changes?: { kept: string[] } }).changes?.kept.join(', ') ?? reload.trim()}`],
    ['SIGTERM → exit', `${(exitMs / 1000).toFixed(2)} s, exit code ${code}`],
  ];
  return table([`agent, shipped go_runtime options, ${BINARIES + CHURNED} Go binaries`, 'measured'], rows);
}

/** Reading a whole map each interval: in bulk (BPF_MAP_LOOKUP_BATCH) against entry by entry. */
export async function mapReadCost(): Promise<string> {
  const rows: string[][] = [];
  for (const entries of [200, 5000]) {
    const obj = new BpfObject(bundledObjectPath('probe_hits')).load();
    const info = obj.maps().find((m) => m.name === 'hits')!;
    const value = Buffer.alloc(info.valueStride);
    for (let i = 0; i < entries; i++) {
      const key = Buffer.alloc(8);
      key.writeUInt32LE(i % 9, 0);
      key.writeUInt32LE(i, 4);
      obj.update('hits', key, value);
    }
    const time = (batch: boolean) => {
      if (!batch) process.env.PROBEFLOW_MAP_BATCH = 'off';
      const runs: number[] = [];
      for (let r = 0; r < 21; r++) {
        const t = performance.now();
        obj.readMap('hits');
        runs.push(performance.now() - t);
      }
      delete process.env.PROBEFLOW_MAP_BATCH;
      return pct(runs, 0.5);
    };
    const bulk = time(true);
    const single = time(false);
    rows.push([`${entries} entries × ${info.valueStride} B (per-CPU stats, ${info.valueStride / Math.ceil(info.valueSize / 8) / 8} CPUs)`, `${single.toFixed(2)} ms`, `${bulk.toFixed(2)} ms`, `${(single / bulk).toFixed(1)}×`]);
    obj.close();
  }
  return table(['reading probe_hits\' `hits` map (median of 21)', 'entry by entry (kernels < 5.6)', 'BPF_MAP_LOOKUP_BATCH', 'faster'], rows);
}

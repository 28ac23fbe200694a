/**
 * The agent as a node owner sees it: `probeflow run` on the shipped go-runtime pipeline
 * (pipelines/go-runtime.yaml, 10 s interval, every Go process on the node), with one and with
 * 100 demo Go processes, under Node's default heap settings and with the young generation
 * capped (the image's --max-semi-space-size). RSS is sampled every 500 ms from /proc; CPU is
 * utime+stime over the measured window, as a share of one core.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGo, ROOT, sleep, stopProcess, table } from './lib.js';

const WARMUP_S = 15;
const MEASURE_S = 60;
const CLK_TCK = 100;

function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

async function measure(processes: number, nodeFlags: string[]): Promise<{ idle: number; max: number; startMax: number; cpu: number }> {
  const demo = buildGo('../examples/demo-workload');
  const workloads: ChildProcess[] = [];
  // Light bursts: 100 busy services would measure the workloads' CPU, not the agent's.
  for (let i = 0; i < processes; i++) workloads.push(spawn(demo, ['-requests', '20', '-tick', '1s'], { stdio: 'ignore', env: { ...process.env, GOMAXPROCS: '1' } }));
  const port = 19900 + processes;
  const config = join(mkdtempSync(join(tmpdir(), 'pf-footprint-')), 'pipeline.yaml');
  writeFileSync(config, readFileSync(join(ROOT, 'pipelines/go-runtime.yaml'), 'utf8').replace('":9464"', `"127.0.0.1:${port}"`));
  const agent = spawn(process.execPath, [...nodeFlags, join(ROOT, 'bin/probeflow.js'), 'run', '-c', config, '--http-listen', `127.0.0.1:${port + 1000}`, '--log-format', 'json'], { stdio: ['ignore', 'ignore', 'ignore'] });
  try {
    const samples: number[] = [];
    let startMax = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < WARMUP_S * 1000) {
      startMax = Math.max(startMax, rssMb(agent.pid!));
      await sleep(500);
    }
    const c0 = cpuTicks(agent.pid!);
    const t1 = Date.now();
    let nextScrape = 0;
    while (Date.now() - t1 < MEASURE_S * 1000) {
      // Scraped every 10 s, as CCE's Prometheus would at its shortest.
      if (Date.now() >= nextScrape) {
        nextScrape = Date.now() + 10_000;
        await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { 'accept-encoding': 'gzip' } }).then((r) => r.arrayBuffer()).catch(() => undefined);
      }
      samples.push(rssMb(agent.pid!));
      await sleep(500);
    }
    const cpu = (cpuTicks(agent.pid!) - c0) / CLK_TCK / ((Date.now() - t1) / 1000);
    const sorted = [...samples].sort((a, b) => a - b);
    return { idle: sorted[Math.floor(sorted.length / 2)]!, max: sorted.at(-1)!, startMax, cpu };
  } finally {
    await stopProcess(agent);
    for (const w of workloads) w.kill();
  }
}

export async function agentFootprint(): Promise<string> {
  const rows: string[][] = [];
  for (const processes of [1, 100]) {
    for (const [label, flags] of [
      ['Node defaults', []],
      ['--max-semi-space-size=2 (the image)', ['--max-semi-space-size=2']],
    ] as const) {
      const m = await measure(processes, [...flags]);
      rows.push([String(processes), label, `${m.idle.toFixed(0)} MB`, `${m.max.toFixed(0)} MB`, `${m.startMax.toFixed(0)} MB`, `${(m.cpu * 100).toFixed(2)}%`]);
    }
  }
  return (
    `go-runtime pipeline as shipped (10 s interval), demo Go processes bursting 20 goroutines a second; ${WARMUP_S} s warm-up, then ${MEASURE_S} s measured with a scrape every 10 s.\n\n` +
    table(['Go processes', 'agent Node flags', 'RSS median', 'RSS max (measured)', 'RSS max (start-up, attach)', 'CPU (one core)'], rows)
  );
}

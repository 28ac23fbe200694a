/**
 * The agent as a node owner sees it: `probeflow run` on the shipped go-runtime pipeline
 * (pipelines/go-runtime.yaml, 10 s interval, every Go process on the node), with one and with
 * 100 demo Go processes, under Node's defaults, under the image's settings, and under the
 * image's settings with V8's optimizing compiler kept. Measuring starts once the agent has
 * attached every process (its log says so) and settled; RSS is sampled every 500 ms from /proc,
 * CPU is utime+stime over the window as a share of one core (stime also apart: syscalls, map
 * reads, page faults; the lowest and highest of its minutes beside it), and the read cost is
 * the agent's own probeflow_probe_read_seconds_total over probeflow_probe_reads_total in that
 * window.
 * Nothing is spawned while measuring: a new process is work for the agent (it checks its binary).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGo, IMAGE_ENV, IMAGE_NODE_FLAGS, ROOT, sleep, stopProcess, table } from './lib.js';

const SETTLE_S = 10;
/**
 * Four minutes: a 60 s window holds zero, one or two of V8's mark-compacts, and with 100
 * processes its CPU moves between ~0.17 and ~0.30% of a core from one minute to the next.
 */
const MEASURE_S = 240;
const WINDOW_S = 60;
const CLK_TCK = 100;

interface AgentSettings {
  label: string;
  flags: string[];
  env: Record<string, string>;
}

const SETTINGS: AgentSettings[] = [
  { label: 'Node defaults', flags: [], env: {} },
  { label: `the image: ${IMAGE_NODE_FLAGS.join(' ')}, ${Object.entries(IMAGE_ENV).map(([k, v]) => `${k}=${v}`).join(' ')}`, flags: [...IMAGE_NODE_FLAGS], env: { ...IMAGE_ENV } },
  { label: 'the image with TurboFan (without --no-opt)', flags: IMAGE_NODE_FLAGS.filter((f) => f !== '--no-opt'), env: { ...IMAGE_ENV } },
];

function status(pid: number): { rss: number; anon: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)![1]) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), hwm: kb('VmHWM') };
}

/** utime and stime: the agent's own work and the kernel's on its behalf (syscalls, page faults). */
function cpuTicks(pid: number): { user: number; system: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return { user: Number(fields[11]), system: Number(fields[12]) };
}

/** probeflow_probe_reads_total and _read_seconds_total of probe `go`, from the engine endpoint. */
async function readCounters(enginePort: number): Promise<{ reads: number; seconds: number }> {
  const text = await (await fetch(`http://127.0.0.1:${enginePort}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}\\{probe="go"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { reads: value('probeflow_probe_reads_total'), seconds: value('probeflow_probe_read_seconds_total') };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function measure(processes: number, settings: AgentSettings) {
  const demo = buildGo('../examples/demo-workload');
  const workloads: ChildProcess[] = [];
  // Light bursts: 100 busy services would measure the workloads' CPU, not the agent's.
  for (let i = 0; i < processes; i++) workloads.push(spawn(demo, ['-requests', '20', '-tick', '1s'], { stdio: 'ignore', env: { ...process.env, GOMAXPROCS: '1' } }));
  const port = 19900 + processes;
  const enginePort = port + 1000;
  const config = join(mkdtempSync(join(tmpdir(), 'pf-footprint-')), 'pipeline.yaml');
  writeFileSync(config, readFileSync(join(ROOT, 'pipelines/go-runtime.yaml'), 'utf8').replace('":9464"', `"127.0.0.1:${port}"`));
  const agent = spawn(process.execPath, [...settings.flags, join(ROOT, 'bin/probeflow.js'), 'run', '-c', config, '--http-listen', `127.0.0.1:${enginePort}`, '--log-format', 'json'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...settings.env },
  });
  const resolved = new Set<number>();
  let tail = '';
  agent.stderr!.on('data', (d: Buffer) => {
    const lines = (tail + String(d)).split('\n');
    tail = lines.pop()!;
    for (const line of lines) {
      if (!line.includes('Go runtime metrics')) continue;
      const pid = (JSON.parse(line) as { pid?: number }).pid;
      if (pid !== undefined) resolved.add(pid);
    }
  });
  try {
    const t0 = Date.now();
    while (resolved.size < processes && Date.now() - t0 < 120_000) await sleep(200);
    if (resolved.size < processes) throw new Error(`the agent resolved ${resolved.size} of ${processes} Go processes in 120 s`);
    const attachS = (Date.now() - t0) / 1000;
    await sleep(SETTLE_S * 1000);
    const startPeak = status(agent.pid!).hwm;
    const c0 = cpuTicks(agent.pid!);
    const r0 = await readCounters(enginePort);
    const t1 = Date.now();
    const rss: number[] = [];
    const anon: number[] = [];
    const minutes: number[] = [];
    let minute = { at: t1, ticks: c0.user + c0.system };
    let nextScrape = 0;
    while (Date.now() - t1 < MEASURE_S * 1000) {
      // Scraped every 10 s, as CCE's Prometheus would at its shortest.
      if (Date.now() >= nextScrape) {
        nextScrape = Date.now() + 10_000;
        await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { 'accept-encoding': 'gzip' } }).then((r) => r.arrayBuffer());
      }
      const s = status(agent.pid!);
      rss.push(s.rss);
      anon.push(s.anon);
      if (Date.now() - minute.at >= WINDOW_S * 1000) {
        const c = cpuTicks(agent.pid!);
        const now = { at: Date.now(), ticks: c.user + c.system };
        minutes.push((now.ticks - minute.ticks) / CLK_TCK / ((now.at - minute.at) / 1000));
        minute = now;
      }
      await sleep(500);
    }
    const c1 = cpuTicks(agent.pid!);
    const seconds = (Date.now() - t1) / 1000;
    const cpu = (c1.user - c0.user + c1.system - c0.system) / CLK_TCK / seconds;
    const kernelCpu = (c1.system - c0.system) / CLK_TCK / seconds;
    const r1 = await readCounters(enginePort);
    const readMs = ((r1.seconds - r0.seconds) / (r1.reads - r0.reads)) * 1000;
    return { median: median(rss), max: Math.max(...rss), anon: median(anon), startPeak, cpu, minutes, kernelCpu, readMs, attachS };
  } finally {
    await stopProcess(agent);
    for (const w of workloads) w.kill();
  }
}

export async function agentFootprint(): Promise<string> {
  const rows: string[][] = [];
  for (const processes of [1, 100]) {
    for (const settings of SETTINGS) {
      const m = await measure(processes, settings);
      rows.push([
        String(processes),
        settings.label,
        `${m.median.toFixed(0)} MB`,
        `${m.max.toFixed(0)} MB`,
        `${m.anon.toFixed(0)} MB`,
        `${m.startPeak.toFixed(0)} MB`,
        `${(m.cpu * 100).toFixed(2)}%`,
        `${(Math.min(...m.minutes) * 100).toFixed(2)}–${(Math.max(...m.minutes) * 100).toFixed(2)}%`,
        `${(m.kernelCpu * 100).toFixed(2)}%`,
        `${m.readMs.toFixed(1)} ms`,
      ]);
    }
  }
  return (
    `go-runtime pipeline as shipped (10 s interval), demo Go processes bursting 20 goroutines a second; measured from ${SETTLE_S} s after the agent had attached every process, for ${MEASURE_S} s, with a gzip scrape every 10 s; the CPU's minutes show how much one ${WINDOW_S} s window can say. ` +
    'Private RSS is RssAnon (the rest is file-backed: the node binary\'s pages, shared with any other Node process on the node). ' +
    'Read per interval: what one read of the probe took on the event loop (all its processes\' maps, then each one\'s /proc/PID/mem gauges), from the agent\'s own probeflow_probe_read_seconds_total.\n\n' +
    table(['Go processes', 'agent settings', 'RSS median', 'RSS max', 'private RSS median', 'RSS peak (start-up, attach)', 'CPU (one core)', `CPU of a ${WINDOW_S} s window, lowest–highest`, 'of it in the kernel', 'read per interval'], rows)
  );
}

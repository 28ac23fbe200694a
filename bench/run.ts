/**
 * probeflow benchmarks, printed as Markdown tables (bench/RESULTS.md is this output).
 *   node --import tsx bench/run.ts        (root; needs the build, Go, and bpftrace for its column)
 * Measures, in one run: per-hit probe cost against bpftrace and an empty BPF program (the floor),
 * engine throughput, scrape latency and memory by series count (beside prom-client), reload
 * latency, start-up time.
 * Numbers are medians of a few runs on whatever machine runs this; nothing here is asserted.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { BpfObject, bundledObjectPath } from '../engine/bpf/bpf-object.js';
import { SelfMetrics } from '../engine/runtime/self-metrics.js';
import { BinarySymbols } from '../probes/lib/binary-symbols.js';
import { stackCheckCookie } from '../probes/lib/go-prologue.js';
import { uprobeProbe } from '../probes/uprobe.js';
import { engineThroughput } from './engine-throughput.js';
import { seriesScale } from './series-scale.js';
import { goRuntimePointCost, goRuntimeProbeCost } from './go-runtime-cost.js';
import { detachCost } from './detach.js';
import { agentFootprint } from './agent-footprint.js';
import { soak } from './soak.js';
import { trapCost } from './trap-cost.js';
import { churnCost, mapReadCost } from './churn.js';
import { benchContext, buildGo, fmtNs, hasBpftrace, median, ROOT, sleep, startBpftrace, startWaiting, stopProcess, table } from './lib.js';

const ctx = benchContext;
const RUNS = 3;
const CALLS = 200_000;

async function probeCost(): Promise<string> {
  const bin = buildGo('go-calls');
  const f = (at: 'entry' | 'stack_check') => BinarySymbols.open(bin).resolve('main.work', { at });

  type Setup = (pid: number) => Promise<() => void | Promise<void>>;
  const ours = (program: string, object: string, at: 'entry' | 'stack_check'): Setup => async (pid) => {
    const o = new BpfObject(bundledObjectPath(object));
    if (object === 'probe_hits') o.setU32('filter_pids', 0);
    o.load();
    const r = f(at);
    o.attachUprobe(program, `/proc/${pid}/exe`, r.fileOffset + r.attachDelta, pid, stackCheckCookie(r.stackCheck));
    return () => o.close();
  };
  const bpftrace: Setup = async (pid) => {
    const p = await startBpftrace(['-p', String(pid), '-e', `uprobe:/proc/${pid}/exe:main.work { @calls = count(); }`]);
    return () => stopProcess(p);
  };
  const configs: [string, Setup | undefined][] = [
    ['workload alone', undefined],
    ['empty BPF program on the jbe (floor)', ours('on_nothing', 'empty', 'stack_check')],
    ['probeflow uprobe counter on the jbe (default)', ours('on_hit', 'probe_hits', 'stack_check')],
    ['empty BPF program at entry (floor, single-stepped)', ours('on_nothing', 'empty', 'entry')],
    ['probeflow uprobe counter at entry (at_entry: true)', ours('on_hit', 'probe_hits', 'entry')],
    ['bpftrace count() at entry (func+offset refused by bpftrace 0.17)', hasBpftrace() ? bpftrace : undefined],
  ];
  const rows: string[][] = [];
  let base = 0;
  for (const [label, setup] of configs) {
    if (label.startsWith('bpftrace') && !hasBpftrace()) {
      rows.push([label, 'not installed (apt-get install bpftrace)', '', '']);
      continue;
    }
    const samples: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const w = await startWaiting(bin, [String(CALLS)]);
      const teardown = setup ? await setup(w.pid) : undefined;
      const out = await w.go();
      await teardown?.();
      samples.push(Number(/ns_per_call ([\d.]+)/.exec(out)![1]));
    }
    const ns = median(samples);
    if (!setup) base = ns;
    rows.push([label, fmtNs(ns), setup ? fmtNs(ns - base) : '', setup && base ? `${(ns / base).toFixed(0)}×` : '']);
  }
  return table(['Go function main.work, 200k calls', 'per call', 'added per hit', 'vs alone'], rows);
}

async function ringBuffer(): Promise<string> {
  const bin = buildGo('go-calls');
  const rows: string[][] = [];
  for (const calls of [200_000, 1_000_000]) {
    const w = await startWaiting(bin, [String(calls)]);
    const metrics = new SelfMetrics();
    let events = 0;
    let first = 0;
    let last = 0;
    const sub = uprobeProbe
      .create({ type: 'uprobe', target: { pid: w.pid }, rescan: '20ms', interval: '200ms', points: [{ name: 'work', symbol: 'main.work', events: true }] }, { ...ctx('ring'), metrics })
      .samples()
      .subscribe((batch) => {
        const n = batch.filter((s) => s.kind === 'event').length;
        if (!n) return;
        if (!first) first = performance.now();
        last = performance.now();
        events += n;
      });
    await sleep(300);
    const out = await w.go();
    await sleep(500);
    sub.unsubscribe();
    const dropped = (await metrics.probeEventsDropped.get()).values[0]?.value ?? 0;
    const perCall = Number(/ns_per_call ([\d.]+)/.exec(out)![1]);
    rows.push([String(calls), fmtNs(perCall), String(events), String(dropped), `${(events / ((last - first) / 1000) / 1e6).toFixed(2)} M/s`]);
  }
  return table(['uprobe events (one per call, ring buffer 4 MiB)', 'per call with events', 'events consumed', 'dropped (counted in kernel)', 'consumed rate'], rows);
}

async function lifecycle(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'pf-bench-'));
  const file = join(dir, 'pipeline.yaml');
  const cfg = (fmt: string) => `probes:\n  p: { type: synthetic, interval: 1s, series: [{ name: bench_total, kind: counter, value: { constant: 1 } }] }\nsinks:\n  out: { type: stdout, format: ${fmt} }\npipelines:\n  a: { inputs: [p], sinks: [out] }\n`;
  writeFileSync(file, cfg('ndjson'));
  const starts: number[] = [];
  const reloads: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const port = 19600 + r;
    const t0 = performance.now();
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'probeflow.js'), 'run', '-c', file, '--http-listen', `127.0.0.1:${port}`, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    while (!out.includes('bench_total')) await sleep(2);
    starts.push(performance.now() - t0);
    while (!err.includes('engine endpoint listening')) await sleep(5);
    writeFileSync(file, cfg(r % 2 ? 'ndjson' : 'text'));
    const t1 = performance.now();
    await fetch(`http://127.0.0.1:${port}/-/reload`, { method: 'POST' });
    reloads.push(performance.now() - t1);
    child.kill('SIGTERM');
    await new Promise((res) => child.once('exit', res));
    writeFileSync(file, cfg('ndjson'));
  }
  return table(['agent lifecycle', 'median'], [
    ['start-up to first sample (node start, config, engine, first tick)', `${median(starts).toFixed(0)} ms`],
    ['reload changing only a sink (probe kept), POST /-/reload round trip', `${median(reloads).toFixed(1)} ms`],
  ]);
}

/** How to read the tables: what each measures and why, without figures (those are the tables'). */
const READING = `## Reading these numbers

- One run, section after section, on a 2-vCPU VM shared with nothing else of ours (no build, no
  test); run-to-run noise is ±5–10% on the tight loops and far more on what involves the
  scheduler, the network or page faults.
- A uprobe on an instruction the kernel emulates (the \`jbe\` of Go's stack-check prologue) costs a
  fraction of one it must single-step (any function entry, which is all bpftrace 0.17 can probe
  in Go code): the trap, not the BPF program, is the cost of a probe. That is why probeflow places
  Go probes on the \`jbe\` (docs/go-runtime.md), and why bpftrace doing the same aggregation costs
  an order of magnitude more per hit on every point that has a stack check. \`casgstatus\` has
  none (NOSPLIT): every way of probing it single-steps, which is why the default wakeup points
  are \`ready\` + \`injectglist\`.
- "program, per run" is the kernel's own accounting (\`kernel.bpf_stats_enabled\`, on for the
  per-point section only; it adds two clock reads per run). On the GC points (one or two hits
  per GC cycle) and on \`alloc_large\` the wall clock cannot resolve a probe's cost: two
  unprobed measurements differ by more than a hit costs, so cells marked "noise" (and negative
  ones) are noise, and the program-time column is the cost that does not depend on it.
- Engine and Prometheus endpoint run in a process of their own each (started for the section),
  with V8's optimizing compiler.
  The image turns it off (the footprint section has both): per-sample work gets several times
  slower (a probe's read per interval too), yet the agent's CPU on the shipped pipeline does not
  rise, as TurboFan's own compiling is spared; what it buys is RSS.
- The reload times include the 100 ms window in which further reload requests are coalesced.
- Detaching: closing a single uprobe link waits in the kernel, and the kernel serialises those
  waits, so closing off the main thread keeps the event loop free but is not faster; what removes
  the cost is \`uprobe_multi\` (kernel ≥ 6.6, made by raw \`bpf()\` as Debian's libbpf 1.1
  predates it): one link per binary.
- Churn: new processes are found by their fork/exec event and read alone ~0.1 s later (not at
  the next interval); a binary's symbols and disassembly are the largest single stall, so
  attaching runs in 5 ms slices between scrapes. An exited process's series go with its final
  read, coalesced over 20 ms, so a scrape that starts within ~25 ms of a kill may still show it.
- Map reads: for per-CPU maps the copy of every CPU's slot dominates, so BPF_MAP_LOOKUP_BATCH
  saves the syscalls and little else.
- The soak bounds RSS over 5 minutes; a slope under 1 MB/min there is V8's GC sawtooth. Only a
  much longer soak can rule out slow growth.
- Footprint: RSS includes the node binary's file-backed pages (shared with other Node processes,
  reclaimable); the private column is what the agent alone holds.
`;

/**
 * Sections measured in a process of their own: the engine's and the endpoint's per-sample loops
 * inherit the JIT's and the heap's state from the sections before them otherwise (the engine
 * ran 0.9–1.0 M samples/s after the probe sections, 1.7–2.9 M alone).
 */
const ISOLATED = new Set(['engine', 'scrape']);
/** Set in such a child: it prints the section's body alone. */
const CHILD = 'PROBEFLOW_BENCH_SECTION';

function inChildProcess(id: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, join(ROOT, 'bench', 'run.ts'), id], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, [CHILD]: id } });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out.trimEnd()) : reject(new Error(`bench section ${id} exited with ${code}`))));
  });
}

const sections: [string, string, () => Promise<string>][] = [
  ['uprobe', 'Per-hit cost of a uprobe on a Go function', probeCost],
  ['go-points', 'Go runtime probe points, each attached alone (cost per hit)', () => goRuntimePointCost(hasBpftrace())],
  ['go-probe', 'The whole go_runtime probe, per Go operation', () => goRuntimeProbeCost(hasBpftrace())],
  ['ringbuf', 'Ring buffer events', ringBuffer],
  ['engine', 'Engine throughput', engineThroughput],
  ['scrape', 'Prometheus endpoint by series count, beside prom-client', seriesScale],
  ['lifecycle', 'Start-up and reload', lifecycle],
  ['detach', 'Detaching: closing uprobe links, and the agent under node churn', detachCost],
  ['map-read', 'Reading BPF maps: in bulk or entry by entry', mapReadCost],
  ['churn', 'A node\'s churn: 50 Go binaries, 200 processes, half replaced', churnCost],
  ['footprint', 'The agent\'s memory and CPU on the shipped pipeline', agentFootprint],
  ['soak', 'Memory over a soak', async () => `The agent with go_runtime and a uprobe on the busy demo workload plus 20 rotating synthetic series, scraped every 5 s (\`node --import tsx bench/soak.ts 300\` alone).\n\n${await soak(300)}`],
  [
    'trap',
    'Where a Go entry uprobe sits: on the prologue\'s branch or on a stepped instruction',
    async () =>
      `main.work called 200k times, wall time per call, best of 3; the probe's cost is the difference from no probe (\`node --import tsx bench/trap-cost.ts N\` alone, in an arm64 guest too: docs/kernels.md).\n\n${await trapCost(200_000)}`,
  ],
];
// `bench/run.ts go-points engine` runs only those sections (for working on one of them).
const only = process.argv.slice(2);
const childSection = process.env[CHILD];
if (childSection) {
  const section = sections.find(([id]) => id === childSection);
  if (!section) throw new Error(`unknown section ${childSection}`);
  console.log(await section[2]());
  process.exit(0);
}
const unknown = only.filter((o) => !sections.some(([id]) => id === o));
if (unknown.length) {
  console.error(`unknown section ${unknown.join(', ')}; sections: ${sections.map(([id]) => id).join(', ')}`);
  process.exit(2);
}
// A quiet machine: the 1-minute load average decays from whatever ran before (a build, a test).
if (!only.length) {
  const until = Date.now() + 300_000;
  while (loadavg()[0]! > 0.5 && Date.now() < until) await new Promise((r) => setTimeout(r, 5000));
}
const header = `Machine: ${cpus().length} vCPUs (${cpus()[0]?.model ?? 'cpu'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}, a VM; 1-minute load average ${loadavg()[0]!.toFixed(2)} when the run started (it waits up to 5 min for it to fall under 0.5; nothing else of ours ran meanwhile); ${new Date().toISOString().slice(0, 10)}.`;
console.log(`# probeflow benchmark results\n\n${header}\nRegenerate: \`npm run -s bench > bench/RESULTS.md\` (as root, after \`npm run build\`).\n`);
const t0 = performance.now();
for (const [id, title, run] of sections) {
  if (only.length && !only.includes(id)) continue;
  const t = performance.now();
  console.log(`## ${title}\n\n${await (ISOLATED.has(id) ? inChildProcess(id) : run())}\n`);
  console.error(`bench: ${id} took ${((performance.now() - t) / 1000).toFixed(0)} s`);
}
if (!only.length) console.log(`${READING}\nThe whole run took ${((performance.now() - t0) / 60_000).toFixed(0)} minutes.`);

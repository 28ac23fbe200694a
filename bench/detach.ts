/**
 * Detaching, the node-churn cost: closing a uprobe link waits ~0.1 s in the kernel here
 * (synchronize_rcu_tasks_trace). Measured two ways:
 *  - K links closed one after another on the main thread (how the agent did it) against the
 *    same links handed to the off-thread closer (native LinkCloser), with the longest stall
 *    of Node's event loop meanwhile;
 *  - the agent itself on N distinct Go binaries: how long /metrics takes to answer while half
 *    of the processes exit (their binaries detach), and how long SIGTERM takes to exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundledObjectPath, kernelHasUprobeMulti } from '../engine/bpf/bpf-object.js';
import { native } from '../engine/bpf/native.js';
import { BinarySymbols } from '../probes/lib/binary-symbols.js';
import { ROOT, sleep, table } from './lib.js';
import { buildC, buildDemoWorkload, startWorkload } from '../test/helpers/workloads.js';

const progress = (what: string) => process.stderr.write(`bench detach: ${what}\n`);

/** The longest gap between 2 ms timer ticks while `work` runs: how long the event loop was held. */
async function withStall<T>(work: () => Promise<T> | T): Promise<{ ms: number; stallMs: number }> {
  let last = performance.now();
  let stall = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    stall = Math.max(stall, now - last);
    last = now;
  }, 2);
  const t0 = performance.now();
  await work();
  const ms = performance.now() - t0;
  await sleep(10);
  clearInterval(tick);
  return { ms, stallMs: Math.max(stall, performance.now() - last) };
}

async function closeLinks(): Promise<string> {
  const w = await startWorkload(buildC(), 1);
  const f = BinarySymbols.open(`/proc/${w.pid}/exe`).resolve('work', { at: 'entry' });
  const attach = (k: number) => {
    const o = new (native().BpfObject)(bundledObjectPath('probe_hits'));
    o.load();
    const ids: number[] = [];
    for (let i = 0; i < k; i++) ids.push(o.attachUprobe('on_hit', `/proc/${w.pid}/exe`, f.fileOffset, w.pid, 0));
    return { o, ids };
  };
  const rows: string[][] = [];
  for (const k of [9, 45, 180]) {
    progress(`closing ${k} links, one by one, then off-thread`);
    const serial = attach(k);
    const s = await withStall(() => {
      for (const id of serial.ids) serial.o.detach(id);
    });
    serial.o.close();
    const offThread = attach(k);
    const a = await withStall(() => offThread.o.detachAsync(offThread.ids));
    offThread.o.close();
    rows.push([`${k} uprobe links${k === 9 ? ' (one Go binary)' : k === 180 ? ' (20 binaries)' : ''}`, `${(s.ms / 1000).toFixed(2)} s`, `${(s.stallMs / 1000).toFixed(2)} s`, `${(a.ms / 1000).toFixed(2)} s`, `${a.stallMs.toFixed(0)} ms`]);
  }
  if (kernelHasUprobeMulti()) {
    // What the probes attach on 6.6+: one uprobe_multi link per binary, nine offsets each.
    for (const binaries of [1, 20]) {
      progress(`closing ${binaries} uprobe_multi links of 9 offsets`);
      const o = new (native().BpfObject)(bundledObjectPath('probe_hits'));
      o.useUprobeMulti('on_hit');
      o.load();
      const ids = Array.from({ length: binaries }, () => o.attachUprobeMulti('on_hit', `/proc/${w.pid}/exe`, new Array(9).fill(f.fileOffset), new Array(9).fill(0), w.pid));
      const a = await withStall(() => o.detachAsync(ids));
      o.close();
      rows.push([`${binaries} uprobe_multi link${binaries > 1 ? 's' : ''} × 9 offsets (${binaries} binar${binaries > 1 ? 'ies' : 'y'})`, '—', '—', `${(a.ms / 1000).toFixed(2)} s`, `${a.stallMs.toFixed(0)} ms`]);
    }
  }
  await w.finish();
  return table(['closing', 'one by one on the main thread', 'event loop held', 'off-thread (LinkCloser)', 'event loop held'], rows);
}

async function agentChurn(): Promise<string> {
  const demo = buildDemoWorkload();
  const rows: string[][] = [];
  for (const n of [10, 30]) {
    const dir = mkdtempSync(join(tmpdir(), 'pf-bench-churn-'));
    // Distinct inodes: each copy is a binary of its own, with its own nine links.
    const procs: ChildProcess[] = [];
    for (let i = 0; i < n; i++) {
      const bin = join(dir, `svc${i}`);
      copyFileSync(demo, bin);
      procs.push(spawn(bin, [], { stdio: 'ignore' }));
    }
    progress(`agent on ${n} Go binaries`);
    const port = 19000 + n;
    const file = join(dir, 'pipeline.yaml');
    writeFileSync(
      file,
      `probes:
  go: { type: go_runtime, target: { exe: "${dir}/svc*" }, interval: 1s, rescan: 200ms }
sinks:
  prom: { type: prometheus, listen: "127.0.0.1:${port}" }
pipelines:
  runtime: { inputs: [go], sinks: [prom] }
`,
    );
    const agent = spawn('node', [join(ROOT, 'bin', 'probeflow.js'), 'run', '-c', file, '--log-format', 'json', '--http-listen', 'off'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    agent.stderr!.on('data', (d) => (log += d));
    const attached = () => log.split('\n').filter((l) => l.includes('"Go runtime probes attached"')).length;
    for (const end = Date.now() + 120_000; attached() < n; await sleep(100)) {
      if (agent.exitCode !== null || Date.now() > end) throw new Error(`agent: ${attached()} of ${n} binaries attached (exit ${agent.exitCode}): ${log.slice(-1500)}`);
    }
    // Half the services exit: their binaries detach (9 links each) while the endpoint is scraped.
    const latencies: number[] = [];
    let scraping = true;
    const scraper = (async () => {
      while (scraping) {
        const t = performance.now();
        await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '');
        latencies.push(performance.now() - t);
        await sleep(20);
      }
    })();
    await sleep(300);
    for (const p of procs.slice(0, n / 2)) p.kill('SIGKILL');
    await sleep(4000);
    scraping = false;
    await scraper;
    const t0 = performance.now();
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
    const exitMs = performance.now() - t0;
    for (const p of procs) p.kill('SIGKILL');
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))]!;
    rows.push([`${n} Go binaries, ${n / 2} exit`, `${attached()}`, `${latencies.length}`, `${p99.toFixed(0)} ms`, `${latencies.at(-1)!.toFixed(0)} ms`, `${(exitMs / 1000).toFixed(1)} s (${n / 2} binaries' links)`]);
  }
  return table(['agent, go_runtime probe', 'binaries attached', 'scrapes during the exits', 'scrape p99', 'scrape max', 'SIGTERM → exit'], rows);
}

export async function detachCost(): Promise<string> {
  return `${await closeLinks()}\n\n${await agentChurn()}`;
}

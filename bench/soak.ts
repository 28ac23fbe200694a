/**
 * Memory over a soak: runs the agent (CLI, as deployed) with churning series — a uprobe on a
 * busy Go workload, the go_runtime probe, and a synthetic probe whose label values rotate so
 * series keep appearing and expiring — and samples its RSS. Prints the RSS slope (least
 * squares over the second half, after warm-up). Usage: node --import tsx bench/soak.ts [SECONDS]
 */
import { spawn } from 'node:child_process';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildGo, IMAGE_ENV, IMAGE_NODE_FLAGS, ROOT, sleep, table } from './lib.js';

export async function soak(seconds: number): Promise<string> {
  const demo = buildGo('../examples/demo-workload');
  const workload = spawn(demo, ['-requests', '100', '-tick', '50ms'], { stdio: 'ignore' });
  const dir = mkdtempSync(join(tmpdir(), 'pf-soak-'));
  const file = join(dir, 'pipeline.yaml');
  writeFileSync(
    file,
    `probes:
  go: { type: go_runtime, target: { pid: ${workload.pid} }, interval: 1s, rescan: 1s }
  calls: { type: uprobe, target: { pid: ${workload.pid} }, interval: 1s, points: [{ name: soak_handle_calls, symbol: main.handle, arg: { go: 1 } }] }
  churn:
    type: synthetic
    interval: 100ms
    series:
${Array.from({ length: 20 }, (_, i) => `      - { name: soak_churn_${i}, kind: gauge, labels: { shard: "s${i}" }, value: { random: { min: 0, max: 100 } } }`).join('\n')}
sinks:
  prom: { type: prometheus, listen: "127.0.0.1:19700", series_ttl: 30s }
pipelines:
  go_rates: { inputs: [go, calls], stages: [{ type: delta, emit: rate }], sinks: [prom] }
  churn_hist: { inputs: [churn], stages: [{ type: histogram, buckets: { linear: { start: 0, width: 10, count: 10 } } }, { type: relabel, rules: [{ set: { node: soak } }] }], sinks: [prom] }
`,
  );
  const agent = spawn(process.execPath, [...IMAGE_NODE_FLAGS, join(ROOT, 'bin', 'probeflow.js'), 'run', '-c', file, '--http-listen', '127.0.0.1:19701', '--log-format', 'json'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...IMAGE_ENV },
  });
  let agentLog = '';
  agent.stderr!.on('data', (d) => (agentLog += d));
  agent.once('exit', (code) => {
    if (Date.now() - t0 < seconds * 1000) {
      console.error(`agent exited early (code ${code}):\n${agentLog.slice(-3000)}`);
      process.exit(1);
    }
  });
  const samples: [number, number][] = [];
  const t0 = Date.now();
  await sleep(3000);
  while (Date.now() - t0 < seconds * 1000) {
    await fetch('http://127.0.0.1:19700/metrics').then((r) => r.text()).catch(() => '');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${agent.pid}/status`, 'utf8'))![1]) / 1024;
    samples.push([(Date.now() - t0) / 60_000, rss]);
    await sleep(5000);
  }
  agent.kill('SIGTERM');
  workload.kill();
  /** Least-squares slope, MB per minute. */
  const slopeOf = (pts: [number, number][]) => {
    const n = pts.length;
    const mx = pts.reduce((a, [x]) => a + x, 0) / n;
    const my = pts.reduce((a, [, y]) => a + y, 0) / n;
    return pts.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / pts.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  };
  const rss = samples.map(([, y]) => y);
  return table(["soak (the image's settings; agent RSS, sampled every 5 s)", 'value'], [
    ['duration', `${seconds} s`],
    ['first / last sample', `${rss[0]!.toFixed(0)} MB / ${rss[rss.length - 1]!.toFixed(0)} MB`],
    ['min / max', `${Math.min(...rss).toFixed(0)} MB / ${Math.max(...rss).toFixed(0)} MB`],
    ['slope, whole run', `${slopeOf(samples).toFixed(2)} MB/min`],
    ['slope, second half', `${slopeOf(samples.slice(Math.floor(samples.length / 2))).toFixed(2)} MB/min (short windows mostly show V8's GC sawtooth)`],
  ]);
}

// node --import tsx bench/soak.ts [SECONDS]: this section alone.
if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  console.log(await soak(Number(process.argv[2] ?? 180)));
  process.exit(0);
}

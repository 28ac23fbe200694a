/**
 * Added cost per event of the go_runtime probe: runs bench/go-overhead without the probe,
 * with the default (cheap) probe, and with alloc_mode exact, and prints ns/op and the
 * difference. Usage: node --import tsx bench/go-runtime-overhead.ts
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { goRuntimeProbe } from '../probes/go-runtime.js';
import { SelfMetrics } from '../engine/runtime/self-metrics.js';
import { silentLogger } from '../engine/util/log.js';

const root = join(import.meta.dirname, '..');
const bin = join(root, '.cache', 'bench', 'go-overhead');
mkdirSync(join(root, '.cache', 'bench'), { recursive: true });
execFileSync('go', ['build', '-o', bin, '.'], { cwd: join(root, 'bench', 'go-overhead'), env: { ...process.env, GOFLAGS: '-mod=mod', GOCACHE: join(root, '.cache', 'gocache'), GOPATH: join(root, '.cache', 'gopath') } });

async function run(config?: Record<string, unknown>): Promise<Record<string, number>> {
  const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, GOMAXPROCS: '2' } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 10));
  const sub = config
    ? goRuntimeProbe.create({ type: 'go_runtime', target: { pid: child.pid! }, rescan: '50ms', interval: '1s', ...config }, { id: 'bench', log: silentLogger, baseDir: root, metrics: new SelfMetrics() }).samples().subscribe()
    : undefined;
  await new Promise((r) => setTimeout(r, 500));
  child.stdin!.write('\n');
  await new Promise<void>((r) => child.once('exit', () => r()));
  sub?.unsubscribe();
  return Object.fromEntries(out.split('\n').filter((l) => /^\w+ [\d.]+$/.test(l)).map((l) => [l.split(' ')[0]!, Number(l.split(' ')[1])]));
}

const base = await run();
const cheap = await run({});
const exact = await run({ alloc_mode: 'exact' });
console.log('| operation | without probe | go_runtime (cheap) | added | go_runtime (exact alloc) | added |');
console.log('|---|---|---|---|---|---|');
for (const op of Object.keys(base)) {
  const f = (n: number) => (n >= 10_000 ? `${(n / 1e6).toFixed(2)} ms` : `${n.toFixed(0)} ns`);
  console.log(`| ${op} | ${f(base[op]!)} | ${f(cheap[op]!)} | ${f(cheap[op]! - base[op]!)} | ${f(exact[op]!)} | ${f(exact[op]! - base[op]!)} |`);
}

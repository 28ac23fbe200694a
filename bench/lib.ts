import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SelfMetrics } from '../engine/runtime/self-metrics.js';
import { WritePolicy } from '../engine/security/write-policy.js';
import { silentLogger } from '../engine/util/log.js';

export const ROOT = join(import.meta.dirname, '..');

/** What a component gets from the engine, for benches that create one directly. */
export const benchContext = (id: string) => ({ id, log: silentLogger, baseDir: ROOT, metrics: new SelfMetrics(), writePolicy: new WritePolicy([]) });

export function buildGo(dir: string): string {
  const out = join(ROOT, '.cache', 'bench', dir);
  mkdirSync(join(ROOT, '.cache', 'bench'), { recursive: true });
  execFileSync('go', ['build', '-o', out, '.'], {
    cwd: join(ROOT, 'bench', dir),
    env: { ...process.env, GOFLAGS: '-mod=mod', GOCACHE: join(ROOT, '.cache', 'gocache'), GOPATH: join(ROOT, '.cache', 'gopath') },
  });
  return out;
}

/** Starts a bench workload that waits for a line on stdin; `go()` runs it and returns its stdout. */
export async function startWaiting(bin: string, args: string[] = []) {
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, GOMAXPROCS: '2' } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  while (!out.includes('ready')) await sleep(5);
  return {
    pid: child.pid!,
    go: async () => {
      child.stdin!.write('\n');
      await new Promise<void>((r) => child.once('exit', () => r()));
      return out;
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export function fmtNs(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  const a = Math.abs(n);
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)} ms`;
  if (a >= 1e3) return `${(n / 1e3).toFixed(2)} µs`;
  return `${n.toFixed(0)} ns`;
}

export function table(headers: string[], rows: (string | number)[][]): string {
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function hasBpftrace(): boolean {
  try {
    execFileSync('bpftrace', ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** Starts bpftrace and resolves once its probes are attached; stop it with stopProcess. */
export async function startBpftrace(args: string[]): Promise<ChildProcess> {
  const p = spawn('bpftrace', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (err += d));
  for (let i = 0; i < 600 && !out.includes('Attaching') && p.exitCode === null; i++) await sleep(50);
  if (!out.includes('Attaching')) {
    await stopProcess(p);
    throw new Error(`bench: bpftrace did not start: ${err}`);
  }
  // "Attaching N probes..." comes before the last probe is in place.
  await sleep(300);
  return p;
}

/**
 * SIGINT, then SIGKILL if it has not exited within 5 s; resolves once it is gone. A bpftrace
 * left behind keeps its probes on the bench binary and skews every later row.
 */
export async function stopProcess(p: ChildProcess): Promise<void> {
  const gone = () => p.exitCode !== null || p.signalCode !== null;
  if (gone()) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGINT');
  for (let i = 0; i < 100 && !gone(); i++) await sleep(50);
  if (!gone()) p.kill('SIGKILL');
  await exited;
}

/** How the image runs the agent (Dockerfile ENTRYPOINT and ENV): the benches that run the agent use it. */
export const IMAGE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--min-semi-space-size=2', '--no-opt', '--single-threaded-gc'];
export const IMAGE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1' };

import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, exited, waitFor } from '../helpers/cli.js';
import { buildDemoWorkload } from '../helpers/workloads.js';
import { requireTool } from '../helpers/require-tool.js';
import { kernelHasUprobeMulti } from '../../engine/bpf/bpf-object.js';

/**
 * The capabilities docs/security.md and the DaemonSet ask for, measured: the agent runs
 * (as uid 0, like the container) with exactly that set against a Go service running as
 * another user, and with each capability taken away in turn, to show what each one buys
 * and that losing it costs only that, with a warning saying which capability to grant.
 */
const NEEDED = ['sys_admin', 'sys_ptrace', 'dac_read_search'] as const;

const METRICS = {
  uprobe: 'demo_handle_calls_total',
  blocked: 'go_sched_goroutines_blocked_seconds_total',
  runqueue: 'go_sched_p_local_queue_length',
  tracepoint: 'demo_futex_syscalls_total',
};

describe('capabilities', () => {
  let workload: ReturnType<typeof spawn>;
  let file: string;

  beforeAll(() => {
    requireTool('setpriv');
    const dir = mkdtempSync(join(tmpdir(), 'pf-caps-'));
    chmodSync(dir, 0o755);
    const bin = join(dir, 'demo-workload');
    copyFileSync(buildDemoWorkload(), bin);
    chmodSync(bin, 0o755);
    // Another user, as the pods on a node are: /proc/PID/{exe,mem} are theirs, mode 0600.
    workload = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', bin], { stdio: 'ignore' });
    file = join(dir, 'pipeline.yaml');
    writeFileSync(
      file,
      `probes:
  go: { type: go_runtime, target: { exe: "${bin}" }, interval: 300ms, rescan: 100ms }
  handler: { type: uprobe, target: { exe: "${bin}" }, interval: 300ms, rescan: 100ms, points: [{ name: demo_handle_calls, symbol: main.handle }] }
  futex: { type: tracepoint, target: { exe: "${bin}" }, interval: 300ms, rescan: 100ms, tracepoints: [{ name: demo_futex_syscalls, event: "syscalls:sys_enter_futex" }] }
sinks:
  out: { type: stdout, format: ndjson }
pipelines:
  a: { inputs: [go, handler, futex], sinks: [out] }
`,
    );
  });
  afterAll(() => workload?.kill());

  /** Runs the agent with only `caps`; which of METRICS it produced, and its warnings. */
  async function runWith(caps: readonly string[]) {
    const effective = execFileSync('setpriv', ['--bounding-set', `-all${caps.map((c) => `,+${c}`).join('')}`, '--inh-caps=-all', 'grep', 'CapEff', '/proc/self/status'], { encoding: 'utf8' });
    const child = spawn('setpriv', ['--bounding-set', `-all${caps.map((c) => `,+${c}`).join('')}`, '--inh-caps=-all', process.execPath, BIN, 'run', '-c', file, '--http-listen', 'off', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const seen = () => Object.entries(METRICS).filter(([, name]) => out.includes(`"name":"${name}"`)).map(([k]) => k);
    const all = Object.keys(METRICS).length;
    // Everything expected shows within seconds; when something is missing, wait long enough to be sure.
    await waitFor(() => seen().length === all, 6000, 'all metrics').catch(() => undefined);
    child.kill('SIGTERM');
    const { code } = await exited(child);
    const warnings = err.split('\n').filter((l) => l.includes('"level":"warn"') && !l.includes('doctor:'));
    return { produced: seen().sort(), warnings, code, effective };
  }

  it('runs every probe kind on another user\'s Go process with SYS_ADMIN, SYS_PTRACE and DAC_READ_SEARCH alone', async () => {
    const r = await runWith(NEEDED);
    expect(r.effective).toMatch(/CapEff:\s+0000000000280004/); // exactly those three bits
    expect(r.produced).toEqual(['blocked', 'runqueue', 'tracepoint', 'uprobe']);
    expect(r.warnings, r.warnings.join("\n")).toEqual([]);
    expect(r.code).toBe(0);
  });

  // uprobe_multi links (6.6+) are made by bpf(), which BPF + PERFMON allow; single uprobes by
  // perf_event_open, which wants SYS_ADMIN. Which applies depends on the running kernel.
  const multi = kernelHasUprobeMulti();
  it(`without SYS_ADMIN (BPF and PERFMON instead): ${multi ? 'uprobe_multi links attach (this kernel), everything runs' : 'uprobes are refused, tracepoints and /proc reads still work'}`, async () => {
    const r = await runWith(['bpf', 'perfmon', 'sys_ptrace', 'dac_read_search']);
    if (multi) {
      expect(r.produced).toEqual(['blocked', 'runqueue', 'tracepoint', 'uprobe']);
      expect(r.warnings.filter((w) => w.includes('not attached'))).toEqual([]);
    } else {
      expect(r.produced).toEqual(['runqueue', 'tracepoint']);
      expect(r.warnings.some((w) => w.includes('uprobe point not attached') && w.includes('Permission denied'))).toBe(true);
    }
    expect(r.code).toBe(0);
  });

  it('without DAC_READ_SEARCH: the scheduler gauges are missing, with the reason; the probes run', async () => {
    const r = await runWith(['sys_admin', 'sys_ptrace']);
    expect(r.produced).toEqual(['blocked', 'tracepoint', 'uprobe']);
    expect(r.warnings.some((w) => w.includes('cannot read the Go scheduler state') && w.includes('/mem'))).toBe(true);
  });

  it('without SYS_PTRACE: the other user\'s process is invisible, and the agent says which capability to grant', async () => {
    const r = await runWith(['sys_admin', 'dac_read_search']);
    expect(r.produced).toEqual([]);
    expect(r.warnings.filter((w) => w.includes('hidden from this agent') && w.includes('grant CAP_SYS_PTRACE')).length).toBe(3);
    expect(r.code).toBe(0);
  });
});

import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { exited, probeflow, ROOT, spawnProbeflow, waitFor } from './helpers/cli.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'probeflow-cli-'));

describe('probeflow CLI', () => {
  it('explains itself with --help, and each command too', () => {
    const main = probeflow(['--help']);
    expect(main.code).toBe(0);
    expect(main.stdout).toMatch(/Commands:\n\s+run .*\n\s+validate .*\n\s+graph .*\n\s+components/);
    for (const cmd of ['run', 'validate', 'graph', 'components', 'doctor']) {
      const r = probeflow([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout, cmd).toMatch(new RegExp(`^Usage: probeflow ${cmd}`));
    }
    expect(probeflow(['--version']).stdout).toMatch(/^probeflow \d+\.\d+\.\d+/);
  });

  it('exits 2 with a hint on usage errors', () => {
    const r = probeflow(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"; commands: run, validate, graph, components, doctor\nRun 'probeflow --help'/);
    expect(probeflow(['validate']).code).toBe(2);
    expect(probeflow(['run', '--bogus']).stderr).toMatch(/Unknown option '--bogus'/);
    expect(probeflow([])).toMatchObject({ code: 2 });
  });

  it('validate: exit 0 and a summary for valid files, exit 1 and FILE:LINE:COL errors otherwise', () => {
    const ok = probeflow(['validate', 'examples/synthetic-demo.yaml']);
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    expect(ok.stdout).toBe('examples/synthetic-demo.yaml: valid (3 pipelines)\n');

    const bad = probeflow(['validate', 'test/fixtures/broken/11-unknown-key-in-stage.yaml', 'examples/synthetic-demo.yaml']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      'test/fixtures/broken/11-unknown-key-in-stage.yaml:12:9: pipelines.a.stages[0].emitt: unknown key "emitt": did you mean "emit"?\n1 of 2 files invalid\n',
    );
  });

  it('graph: text and DOT', () => {
    const text = probeflow(['graph', 'examples/synthetic-demo.yaml']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('pipeline requests\n  inputs:  demo (synthetic)\n  stages:  filter → per_second (delta)\n  emits:   event, gauge   (max_series 10000)\n  sinks:   console (stdout)\n');
    const dot = probeflow(['graph', '-f', 'dot', 'examples/synthetic-demo.yaml']);
    expect(dot.stdout).toMatch(/^digraph probeflow \{/);
    expect(dot.stdout).toContain('"probe:demo" -> "pipeline:requests:in";');
    expect(dot.stdout).toContain('"pipeline:requests:out" -> "sink:console";');
  });

  it('components: lists every type with options from the schemas', () => {
    const r = probeflow(['components']);
    expect(r.code).toBe(0);
    for (const t of ['synthetic', 'replay', 'delta', 'rate', 'histogram', 'threshold', 'filter', 'relabel', 'aggregate', 'stdout']) expect(r.stdout).toContain(`  ${t} `);
    expect(r.stdout).toMatch(/emit: "delta"\|"rate"\|"both" = "delta" — /);
    const json = JSON.parse(probeflow(['components', 'histogram', '--json']).stdout);
    expect(json[0]).toMatchObject({ kind: 'stage', type: 'histogram', schema: { required: ['type', 'buckets'] } });
    expect(probeflow(['components', 'nope']).code).toBe(1);
  });

  it('doctor: reports every check with its state, and kprobes as this kernel has them', () => {
    const r = probeflow(['doctor', '--json']);
    expect(r.code).toBe(0);
    const checks = JSON.parse(r.stdout) as { name: string; ok: boolean; essential: boolean }[];
    expect(checks.map((c) => c.name)).toEqual(['kernel', 'bpf syscall', 'BTF', 'uprobes', 'kprobes', 'tracefs', 'bpffs', 'capabilities', 'memlock', 'libbpf binding', 'BPF program types', 'ring buffers', 'process events', 'attach cookies', 'uprobe_multi links', 'bulk map reads', 'BPF objects', 'loads probe_hits', 'loads tracepoint_hits', 'loads go_runtime', 'loads process_events']);
    expect(checks.filter((c) => c.essential).every((c) => c.ok)).toBe(true);
    const kprobePmu = existsSync('/sys/bus/event_source/devices/kprobe/type');
    expect(checks.find((c) => c.name === 'kprobes')!.ok).toBe(kprobePmu);
    // What the process watcher and the map reader will use here follows the kernel's version.
    const [major = 0, minor = 0] = release().split('.').map(Number);
    expect(checks.find((c) => c.name === 'process events')!.ok).toBe(checks.find((c) => c.name === 'ring buffers')!.ok);
    expect(checks.find((c) => c.name === 'uprobe_multi links')!.ok).toBe(major > 6 || (major === 6 && minor >= 6));
    expect(checks.find((c) => c.name === 'attach cookies')!.ok).toBe(major > 5 || (major === 5 && minor >= 15));
    expect(checks.find((c) => c.name === 'bulk map reads')!.ok).toBe(major > 5 || (major === 5 && minor >= 6));
    const text = probeflow(['doctor']).stdout;
    expect(text).toMatch(/^ok {4}uprobes /m);
  });

  it('run: streams the example to stdout and exits 0 when its probes finish', () => {
    const dir = tmp();
    const file = join(dir, 'p.yaml');
    writeFileSync(
      file,
      `probes:
  p: { type: synthetic, ticks: 3, interval: 10ms, series: [{ name: c_total, kind: counter, value: { constant: 2 } }] }
sinks:
  out: { type: stdout, format: ndjson }
pipelines:
  a: { inputs: [p], stages: [{ type: delta }], sinks: [out] }
`,
    );
    const r = probeflow(['run', '-c', file, '--log-format', 'json']);
    expect(r.code).toBe(0);
    const samples = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(samples.map((s) => [s.name, s.kind, s.value])).toEqual([
      ['c_total', 'gauge', 2],
      ['c_total', 'gauge', 2],
    ]);
    const all = r.stderr.trim().split('\n').map((l) => JSON.parse(l));
    // Doctor findings (e.g. no kprobes here) come first, as warnings.
    expect(all.filter((l) => l.msg.startsWith('doctor: ')).every((l) => l.level === 'warn')).toBe(true);
    const logs = all.filter((l) => !l.msg.startsWith('doctor: '));
    expect(logs.map((l) => l.msg)).toEqual(['starting', 'running', 'engine endpoint listening', 'stopping', 'stopped']);
    expect(logs[2]).toMatchObject({ address: 'http://127.0.0.1:9465' });
    expect(logs[3]).toMatchObject({ level: 'info', reason: 'all pipelines finished' });
  });

  it('run: refuses an invalid config with located errors and starts nothing', () => {
    const r = probeflow(['run', '-c', 'test/fixtures/broken/21-cycle.yaml', '--log-format', 'json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^test\/fixtures\/broken\/21-cycle.yaml:12:14: pipelines.b.inputs\[0\]: pipelines form a cycle/);
    expect(r.stdout).toBe('');
  });

  it('run: uses PROBEFLOW_CONFIG when -c is not given, and says which file is missing', () => {
    const r = probeflow(['run'], { env: { PROBEFLOW_CONFIG: '/nonexistent/pipeline.yaml' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('/nonexistent/pipeline.yaml:1:1: cannot read config: no such file');
  });

  it('the README main command: the five Go runtime metrics, a uprobe and a tracepoint, live from the demo workload', () => {
    // The README's 12 s, as `make demo` runs it: rates need two 3 s reads after ~2 s of start-up,
    // which 8 s fitted with 80 ms to spare.
    const demo = spawnSync('bash', ['examples/run-demo.sh', 'examples/go-demo.yaml', '12'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(demo.status, demo.stderr).toBe(0);
    for (const metric of [
      /gauge +go_sched_goroutines_blocked_seconds_per_second\{pid="\d+",reason="sleep"\} [\d.]+/,
      /histogram go_gc_pause_seconds\{pid="\d+",phase="\w+"\} count=\d+/,
      /gauge +go_sched_p_local_queue_length\{pid="\d+",p="0"\} \d+/,
      /gauge +go_sched_m_nonidle_count\{pid="\d+"\} \d+/,
      /gauge +go_mem_alloc_bytes_per_second\{pid="\d+"\} [\d.]+/,
      /gauge +demo_handle_calls_per_second\{pid="\d+",comm="demo-workload"\} \d+/,
      /gauge +demo_futex_syscalls_per_second\{pid="\d+",comm="demo-workload"\} \d+/,
    ])
      expect(demo.stdout).toMatch(metric);
    expect(demo.stderr).toContain('Go runtime probes attached');
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`run: ${signal} drains and exits 0`, async () => {
      const child = spawnProbeflow(['run', '-c', 'examples/synthetic-demo.yaml', '--log-format', 'json']);
      await waitFor(() => child.output().stdout.includes('demo_queue_length'), 10_000, 'first samples');
      child.kill(signal);
      const { code } = await exited(child);
      expect(code).toBe(0);
      expect(child.output().stderr).toContain(`"reason":"${signal}"`);
    });
  }
});

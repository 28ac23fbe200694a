import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { goRuntimeProbe } from '../../probes/go-runtime.js';
import { uprobeProbe } from '../../probes/uprobe.js';
import { ElfFile } from '../../probes/lib/elf-file.js';
import { exited, spawnProbeflow, waitFor } from '../helpers/cli.js';
import { goToolchains } from '../helpers/go-toolchains.js';
import { runProbe } from '../helpers/probe-harness.js';
import { freePort } from '../helpers/servers.js';
import { buildC, buildGoProgram, startWorkload } from '../helpers/workloads.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'pf-fault-'));

describe('faults', () => {
  it('re-attaches to a target that is killed and restarted, within the rescan bound, and drops the old pid', async () => {
    const bin = buildC();
    const p = runProbe(uprobeProbe, { target: { exe: bin }, interval: '100ms', points: [{ name: 'work_calls', symbol: 'work' }] }); // default rescan: 2s
    try {
      const first = await startWorkload(bin, 10);
      await p.tracking(first.pid);
      await first.go();
      await p.waitValue('work_calls_total', first.pid, 10);
      first.child.kill('SIGKILL');
      const second = await startWorkload(bin, 20);
      const t0 = Date.now();
      await p.tracking(second.pid);
      expect(Date.now() - t0).toBeLessThan(2500);
      await second.go();
      await p.waitValue('work_calls_total', second.pid, 20);
      // The killed process's counters were dropped: the next reads carry only the new pid.
      p.latest.clear();
      await waitFor(() => p.series('work_calls_total', second.pid).length > 0, 5000, 'a fresh read');
      expect(p.series('work_calls_total', first.pid)).toEqual([]);
      await second.finish();
      expect(p.error).toBeUndefined();
    } finally {
      p.stop();
    }
  });

  it('survives processes that exit while being attached to', async () => {
    const bin = join(tmp(), 'pfshortlived');
    copyFileSync('/bin/true', bin);
    const p = runProbe(uprobeProbe, { target: { comm: 'pfshortlived' }, rescan: '20ms', interval: '100ms', points: [{ name: 'x', symbol: 'main' }] });
    try {
      for (let i = 0; i < 40; i++) execFileSync(bin);
      await new Promise((r) => setTimeout(r, 300));
      expect(p.error).toBeUndefined();
    } finally {
      p.stop();
    }
  });

  it('go_runtime on a Go version it has no offsets for: says so, keeps the offset-free metrics', async () => {
    const tc = goToolchains().find((t) => t.version === '1.24');
    expect(tc, 'Go 1.24 toolchain (scripts/fetch-go-toolchains.sh)').toBeDefined();
    // A build whose .go.buildinfo says go1.99: same runtime, unknown version.
    const src = buildGoProgram('go-calls', 'plain', tc!);
    const bin = join(tmp(), 'go-calls-future');
    const bytes = readFileSync(src);
    const elf = ElfFile.open(src);
    const sec = elf.section('.go.buildinfo')!;
    elf.close();
    const at = bytes.indexOf(Buffer.from('go1.24.'), sec.offset);
    expect(at).toBeGreaterThan(sec.offset);
    expect(at).toBeLessThan(sec.offset + 64);
    bytes.write('go1.99.', at, 'latin1');
    writeFileSync(bin, bytes, { mode: 0o755 });
    const w = await startWorkload(bin, 10);
    const p = runProbe(goRuntimeProbe, { target: { pid: w.pid }, interval: '100ms', rescan: '50ms' });
    try {
      await p.tracking(w.pid);
      const warn = p.logs.find((l) => /has no offset table here/.test(l.msg));
      expect(warn?.msg).toBe('go1.99.4 has no offset table here: blocked time, run queues, Ms, goroutines and cheap alloc are off for it; GC cycles, pauses and exact alloc still work');
      await waitFor(() => p.value('go_gc_cycles_total', w.pid) !== undefined, 5000, 'go_gc_cycles_total');
      expect(p.series('go_sched_p_local_queue_length', w.pid)).toEqual([]);
      expect(p.value('go_info', w.pid, { version: 'go1.99.4' })).toBe(1);
    } finally {
      p.stop();
      await w.finish();
    }
  });

  it('go_runtime pointed at a process that is not Go: says so, skips it, fails nothing', async () => {
    const w = await startWorkload(buildC(), 10);
    const p = runProbe(goRuntimeProbe, { target: { pid: w.pid }, interval: '100ms', rescan: '50ms' });
    try {
      await waitFor(() => p.logs.some((l) => l.msg === 'target is not a Go binary (no .go.buildinfo); skipped'), 5000, 'the not-Go warning');
      await new Promise((r) => setTimeout(r, 300));
      expect(p.series('go_info', w.pid)).toEqual([]);
      expect(p.error).toBeUndefined();
    } finally {
      p.stop();
      await w.finish();
    }
  });

  it('a target naming a binary that does not exist: no error, a hint, and it attaches once such a process starts', async () => {
    const dir = tmp();
    const bin = join(dir, 'appears-later');
    const p = runProbe(uprobeProbe, { target: { exe: bin }, interval: '100ms', rescan: '50ms', points: [{ name: 'work_calls', symbol: 'work' }] });
    try {
      await waitFor(() => p.logs.some((l) => l.msg === 'no process matches the target yet; found when it starts'), 5000, 'the hint');
      copyFileSync(buildC(), bin);
      const w = await startWorkload(bin, 7);
      await p.tracking(w.pid);
      await w.go();
      await p.waitValue('work_calls_total', w.pid, 7);
      await w.finish();
      expect(p.error).toBeUndefined();
    } finally {
      p.stop();
    }
  });

  it('a probe the kernel cannot serve fails alone; the other pipelines keep exporting', async () => {
    const [http, sink] = [await freePort(), await freePort()];
    const file = join(tmp(), 'pipeline.yaml');
    writeFileSync(
      file,
      `probes:
  kp: { type: kprobe, points: [{ name: reads, function: vfs_read }] }
  tp: { type: tracepoint, tracepoints: [{ name: x, event: "sched:sched_no_such_event" }] }
  ok: { type: synthetic, interval: 100ms, series: [{ name: still_here_total, kind: counter, value: { constant: 1 } }] }
sinks:
  out: { type: prometheus, listen: "127.0.0.1:${sink}" }
pipelines:
  a: { inputs: [kp, tp], sinks: [out] }
  b: { inputs: [ok], sinks: [out] }
`,
    );
    const child = spawnProbeflow(['run', '-c', file, '--http-listen', `127.0.0.1:${http}`, '--log-format', 'json']);
    try {
      await waitFor(() => child.output().stderr.includes('"msg":"running"'), 15_000, 'running');
      const text = await (await fetch(`http://127.0.0.1:${sink}/metrics`)).text();
      expect(text).toMatch(/probeflow_component_up\{id="tp",kind="probe",type="tracepoint"\} 0/);
      await new Promise((r) => setTimeout(r, 300));
      expect(await (await fetch(`http://127.0.0.1:${sink}/metrics`)).text()).toMatch(/still_here_total [1-9]\d*/);
      const failures = child.output().stderr.split('\n').filter((l) => l.includes('failed; pipelines without it keep running'));
      expect(failures.some((l) => l.includes('"probe":"tp"') && l.includes('No such file or directory'))).toBe(true);
      const kprobe = existsKprobe();
      expect(failures.some((l) => l.includes('"probe":"kp"'))).toBe(!kprobe);
    } finally {
      child.kill('SIGTERM');
      expect((await exited(child)).code).toBe(0);
    }
  });

  it('serves every one of many concurrent scrapes while reloads run', async () => {
    const [http, sink] = [await freePort(), await freePort()];
    const file = join(tmp(), 'pipeline.yaml');
    const cfg = (name: string) => `probes:
  p: { type: synthetic, interval: 50ms, series: [{ name: ${name}, kind: counter, value: { constant: 1 } }] }
sinks:
  out: { type: prometheus, listen: "127.0.0.1:${sink}" }
pipelines:
  a: { inputs: [p], sinks: [out] }
`;
    writeFileSync(file, cfg('load_a_total'));
    const child = spawnProbeflow(['run', '-c', file, '--http-listen', `127.0.0.1:${http}`, '--log-format', 'json', '--watch-interval', '0s']);
    try {
      await waitFor(() => child.output().stderr.includes('engine endpoint listening'), 15_000, 'engine endpoint');
      const statuses: number[] = [];
      let stop = false;
      const scraper = async () => {
        while (!stop) statuses.push((await fetch(`http://127.0.0.1:${sink}/metrics`).then((r) => r.text().then(() => r.status), () => 0)));
      };
      const scrapers = Array.from({ length: 8 }, scraper);
      const reloads: number[] = [];
      for (let i = 0; i < 10; i++) {
        writeFileSync(file, cfg(i % 2 ? 'load_a_total' : 'load_b_total'));
        reloads.push((await fetch(`http://127.0.0.1:${http}/-/reload`, { method: 'POST' })).status);
      }
      stop = true;
      await Promise.all(scrapers);
      expect(reloads).toEqual(new Array(10).fill(200));
      expect(statuses.length).toBeGreaterThan(100);
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
    } finally {
      child.kill('SIGTERM');
      expect((await exited(child)).code).toBe(0);
    }
  });

  it('refuses a config that would write outside the allowed directories, at start and at reload, and keeps the running one', async () => {
    const [http, sink] = [await freePort(), await freePort()];
    const allowed = tmp();
    const file = join(tmp(), 'pipeline.yaml');
    const cfg = (path: string) => `probes:
  p: { type: synthetic, interval: 50ms, series: [{ name: kept_total, kind: counter, value: { constant: 1 } }] }
sinks:
  out: { type: prometheus, listen: "127.0.0.1:${sink}" }
  dump: { type: file, path: "${path}" }
pipelines:
  a: { inputs: [p], sinks: [out, dump] }
`;
    writeFileSync(file, cfg('/etc/probeflow-was-here'));
    const refused = spawnProbeflow(['run', '-c', file, '--allow-write', allowed, '--http-listen', 'off']);
    expect((await exited(refused)).code).toBe(1);
    expect(refused.output().stderr).toContain(`${file}:5:29: sinks.dump.path: "/etc/probeflow-was-here" is outside the directories the agent may write to (${allowed})`);
    expect(existsSync('/etc/probeflow-was-here')).toBe(false);

    writeFileSync(file, cfg(join(allowed, 'samples.ndjson')));
    const child = spawnProbeflow(['run', '-c', file, '--allow-write', allowed, '--http-listen', `127.0.0.1:${http}`, '--log-format', 'json', '--watch-interval', '0s']);
    try {
      await waitFor(() => child.output().stderr.includes('engine endpoint listening'), 15_000, 'engine endpoint');
      await waitFor(() => existsSync(join(allowed, 'samples.ndjson')) && readFileSync(join(allowed, 'samples.ndjson'), 'utf8').includes('kept_total'), 5000, 'samples in the file');
      writeFileSync(file, cfg(`${allowed}/../escaped.ndjson`));
      const res = await fetch(`http://127.0.0.1:${http}/-/reload`, { method: 'POST' });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { errors: string[] }).errors[0]).toContain('sinks.dump.path: "' + allowed + '/../escaped.ndjson" is outside');
      const size = readFileSync(join(allowed, 'samples.ndjson')).length;
      await waitFor(() => readFileSync(join(allowed, 'samples.ndjson')).length > size, 5000, 'the running file sink to keep writing');
      expect(await (await fetch(`http://127.0.0.1:${sink}/metrics`)).text()).toMatch(/kept_total [1-9]/);
      expect(existsSync(join(allowed, '..', 'escaped.ndjson'))).toBe(false);
    } finally {
      child.kill('SIGTERM');
      expect((await exited(child)).code).toBe(0);
    }
  });

  it('never logs a secret, and binds the engine endpoint to loopback by default', async () => {
    const secret = `s3cret-${process.pid}-token`;
    const port = await freePort();
    const file = join(tmp(), 'pipeline.yaml');
    writeFileSync(
      file,
      `probes:
  ok: { type: synthetic, interval: 50ms, series: [{ name: x_total, kind: counter, value: { constant: 1 } }] }
sinks:
  push: { type: remote_write, url: "http://127.0.0.1:${port}/api/v1/write", bearer_token: "\${PF_TOKEN}", queue: { batch_send_deadline: 20ms, min_backoff: 20ms, max_backoff: 50ms } }
pipelines:
  a: { inputs: [ok], sinks: [push] }
`,
    );
    const http = await freePort();
    const child = spawnProbeflow(['run', '-c', file, '--log-level', 'debug', '--log-format', 'json', '--http-listen', `127.0.0.1:${http}`], { PF_TOKEN: secret });
    try {
      await waitFor(() => child.output().stderr.includes('send failed; retrying'), 15_000, 'a failing send (receiver down)');
      const listening = execFileSync('ss', ['-ltn'], { encoding: 'utf8' });
      expect(listening).toMatch(new RegExp(`127\\.0\\.0\\.1:${http}\\b`));
      expect(listening).not.toMatch(new RegExp(`(0\\.0\\.0\\.0|\\*|\\[::\\]):${http}\\b`));
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }
    const { stdout, stderr } = child.output();
    expect(stdout + stderr).not.toContain(secret);
  });
});

function existsKprobe(): boolean {
  try {
    readFileSync('/sys/bus/event_source/devices/kprobe/type');
    return true;
  } catch {
    return false;
  }
}

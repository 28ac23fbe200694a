import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkFeature } from '../../engine/bpf/kernel-features.js';
import { kprobeProbe } from '../../probes/kprobe.js';
import { rawTracepointProbe } from '../../probes/raw-tracepoint.js';
import { tracepointProbe } from '../../probes/tracepoint.js';
import { waitFor } from '../helpers/cli.js';
import { settledKernelObjects } from '../helpers/kernel-objects.js';
import { runProbe } from '../helpers/probe-harness.js';
import { buildC, startWorkload } from '../helpers/workloads.js';

const fast = { interval: '100ms', rescan: '50ms' };

describe('tracepoint probes (real kernel)', () => {
  afterAll(async () => {
    expect(await settledKernelObjects()).toEqual({ programs: 0, links: 0 });
  });

  it('tracepoint: counts exactly the getpid syscalls of the targeted process', async () => {
    const w = await startWorkload(buildC(), 777);
    const p = runProbe(tracepointProbe, { ...fast, target: { pid: w.pid }, tracepoints: [{ name: 'getpid_calls', event: 'syscalls:sys_enter_getpid' }] });
    try {
      await p.tracking(w.pid);
      await w.go();
      await p.waitValue('getpid_calls_total', w.pid, 777);
      expect(checkFeature('tracefs').ok).toBe(true);
    } finally {
      p.stop();
      await w.finish();
    }
  });

  it('raw_tracepoint: sees a known number of execs without tracefs or a target', async () => {
    // A uniquely named copy of `true`, so its comm tells our execs from everyone else's.
    const dir = mkdtempSync(join(tmpdir(), 'pf-'));
    const bin = join(dir, `pfexec${process.pid % 10000}`);
    copyFileSync('/bin/true', bin);
    const comm = bin.split('/').pop()!;
    const p = runProbe(rawTracepointProbe, { ...fast, tracepoints: [{ name: 'execs', event: 'sched_process_exec' }] });
    try {
      await waitFor(() => p.logs.some((l) => l.msg === 'tracepoints attached'), 10_000, 'attach');
      for (let i = 0; i < 5; i++) execFileSync(bin);
      const ours = () => [...p.latest.values()].filter((s) => s.name === 'execs_total' && s.labels.comm === comm).reduce((n, s) => n + (s.kind === 'counter' ? s.value : 0), 0);
      await waitFor(() => ours() === 5, 10_000, `5 execs of ${comm} (saw ${ours()})`);
      expect(p.error).toBeUndefined();
    } finally {
      p.stop();
    }
  });

  it('tracepoint: a misspelt event fails only this probe, with the reason', async () => {
    const p = runProbe(tracepointProbe, { ...fast, tracepoints: [{ name: 'x', event: 'sched:sched_no_such_event' }] });
    await waitFor(() => p.error !== undefined, 5000, 'error');
    expect(String((p.error as Error).message)).toMatch(/attach tracepoint sched:sched_no_such_event: No such file or directory/);
    p.stop();
  });

  const kprobe = checkFeature('kprobe');
  if (!kprobe.ok) console.warn(`SKIPPED kprobe integration test: ${kprobe.detail}`);
  it.skipIf(!kprobe.ok)(`kprobe: counts calls of a kernel function for the target${kprobe.ok ? '' : ` (skipped: ${kprobe.detail})`}`, async () => {
    const w = await startWorkload(buildC(), 500);
    const p = runProbe(kprobeProbe, { ...fast, target: { pid: w.pid }, points: [{ name: 'getpid', function: process.arch === 'arm64' ? '__arm64_sys_getpid' : '__x64_sys_getpid' }] });
    try {
      await p.tracking(w.pid);
      await w.go();
      await p.waitValue('getpid_total', w.pid, 500);
    } finally {
      p.stop();
      await w.finish();
    }
  });

  it.runIf(!kprobe.ok)('kprobe: on a kernel without kprobes the probe fails with what to do instead', async () => {
    const p = runProbe(kprobeProbe, { ...fast, points: [{ name: 'x', function: 'vfs_read' }] });
    await waitFor(() => p.error !== undefined, 5000, 'error');
    expect((p.error as Error).message).toMatch(/no kprobes.*use a tracepoint or raw_tracepoint probe instead/);
    p.stop();
  });
});

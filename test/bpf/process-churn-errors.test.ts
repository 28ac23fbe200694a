import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { goRuntimeProbe } from '../../probes/go-runtime.js';
import { uprobeProbe } from '../../probes/uprobe.js';
import { waitFor } from '../helpers/cli.js';
import { settledKernelObjects } from '../helpers/kernel-objects.js';
import { runProbe } from '../helpers/probe-harness.js';
import { buildC, buildDemoWorkload, startWorkload } from '../helpers/workloads.js';

/**
 * Failures inside a probe's callbacks, for real: a full in-kernel process map, and processes
 * that exit while they are being attached. Each costs that process, said with what to do;
 * neither the probe nor the agent goes down, and the next process is probed as usual.
 */
describe('probe callbacks under failure', () => {
  it('a full procs map skips the process with "raise max_processes"; the probe keeps the first', async () => {
    const bin = buildDemoWorkload();
    const first = spawn(bin, [], { stdio: 'ignore' });
    const second = spawn(bin, [], { stdio: 'ignore' });
    const p = runProbe(goRuntimeProbe, { target: { pid: [first.pid!, second.pid!] }, interval: '200ms', rescan: '100ms', max_processes: 1, metrics: ['gc_cycles'] });
    try {
      const full = () => p.logs.find((l) => l.msg.startsWith('map procs is full (1 entries): process not probed'));
      await waitFor(() => full() !== undefined || p.error !== undefined, 10_000, 'the full-map warning');
      expect(p.error).toBeUndefined();
      expect(full()!.msg).toBe('map procs is full (1 entries): process not probed; raise max_processes (now 1) on this probe');
      const skipped = full()!.fields.pid as number;
      const probed = skipped === first.pid ? second.pid! : first.pid!;
      await waitFor(() => p.value('go_info', probed) === 1, 10_000, 'go_info of the probed process');
      expect(p.series('go_info', skipped)).toEqual([]);
    } finally {
      p.stop();
      first.kill();
      second.kill();
    }
  });

  // A stress check: the window between discovery and attach is narrow, so a run may or may not hit
  // it (the deterministic case of a throw inside a target handler is in bpf-object.test.ts).
  it('processes exiting while being attached cost only themselves; the next one of that binary is counted exactly', async () => {
    // Its own copy, so no other test's processes match the target.
    const bin = join(mkdtempSync(join(tmpdir(), 'pf-churn-')), 'short-lived');
    copyFileSync(buildC(), bin);
    const p = runProbe(uprobeProbe, { target: { exe: bin }, interval: '100ms', rescan: '5ms', points: [{ name: 'churn_work_calls', symbol: 'work' }] });
    try {
      // 300 processes that live 0–20 ms: each rescan finds some of them gone before, during or after attach.
      let exited = 0;
      for (let i = 0; i < 300; i++) {
        const c = spawn(bin, ['1'], { stdio: ['pipe', 'ignore', 'ignore'] });
        c.once('exit', () => exited++);
        setTimeout(() => c.stdin!.end(), Math.random() * 20);
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 15));
      }
      await waitFor(() => exited === 300, 30_000, 'the short-lived processes to exit');
      expect(p.error).toBeUndefined();
      // A long-lived one afterwards: attached (the binary was not written off) and counted exactly.
      const w = await startWorkload(bin, 777);
      await p.tracking(w.pid);
      await w.go();
      await p.waitValue('churn_work_calls_total', w.pid, 777);
      await w.finish();
      expect(p.error).toBeUndefined();
      expect(p.logs.filter((l) => l.msg === 'cannot probe this binary; its processes are skipped')).toEqual([]);
      // A process gone before its points were attached failed them; that is its exit, not the points.
      expect(p.logs.filter((l) => l.msg === 'uprobe point not attached')).toEqual([]);
    } finally {
      p.stop();
    }
    expect(await settledKernelObjects()).toEqual({ programs: 0, links: 0 });
  });
});

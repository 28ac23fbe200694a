import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { labelsKey, withLabel } from '../../engine/model/sample.js';
import { goRuntimeProbe } from '../../probes/go-runtime.js';
import { waitFor } from '../helpers/cli.js';
import { settledKernelObjects } from '../helpers/kernel-objects.js';
import { runProbe } from '../helpers/probe-harness.js';
import { buildDemoWorkload } from '../helpers/workloads.js';

describe('labels objects are reused across reads (each stage then keys a series once)', () => {
  afterAll(async () => {
    expect(await settledKernelObjects()).toEqual({ programs: 0, links: 0 });
  });

  it('withLabel gives the same object for the same base, name and value, and leaves the base alone', () => {
    const base = { pid: '7', comm: 'api' };
    const a = withLabel(base, 'reason', 'select');
    expect(withLabel(base, 'reason', 'select')).toBe(a);
    expect(a).toEqual({ pid: '7', comm: 'api', reason: 'select' });
    expect(withLabel(base, 'reason', 'sleep')).not.toBe(a);
    // The same value under another name is another series.
    expect(withLabel(base, 'phase', 'select')).toEqual({ pid: '7', comm: 'api', phase: 'select' });
    expect(withLabel({ ...base }, 'reason', 'select')).not.toBe(a);
    expect(base).toEqual({ pid: '7', comm: 'api' });
    expect(labelsKey(withLabel(base, 'reason', 'select'))).toBe(labelsKey(a));
  });

  it('go_runtime: every series of a process keeps one labels object from read to read (per-P, per-reason and per-phase ones too)', async () => {
    const w = spawn(buildDemoWorkload(), [], { stdio: 'ignore', env: { ...process.env, GOMAXPROCS: '2' } });
    const p = runProbe(goRuntimeProbe, { target: { pid: w.pid }, interval: '100ms', rescan: '50ms' });
    try {
      await p.tracking(w.pid!);
      await waitFor(() => p.series('go_sched_p_local_queue_length', w.pid!).length > 0 && p.series('go_gc_pause_seconds', w.pid!).length > 0, 10_000, 'per-P and per-phase series');
      // Several reads (100 ms apart); only series read more than once tell anything.
      await new Promise((r) => setTimeout(r, 600));
      const reread = [...p.latest].filter(([key, s]) => s.labels.pid === String(w.pid) && p.firsts.get(key)!.timestamp < s.timestamp);
      const fresh = reread.filter(([key, s]) => p.firsts.get(key)!.labels !== s.labels).map(([key]) => key.replace(/\u0000|\u0001/g, ' '));
      expect(fresh).toEqual([]);
      expect(reread.filter(([, s]) => 'p' in s.labels || 'reason' in s.labels || 'phase' in s.labels).length).toBeGreaterThan(3);
      expect(p.error).toBeUndefined();
    } finally {
      p.stop();
      w.kill();
    }
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PidLabels } from '../probes/lib/pid-labels.js';
import { watchTargets, type TargetChange } from '../probes/lib/target.js';
import { fakeProcess } from './helpers/fake-proc.js';

describe('PidLabels', () => {
  it('a reused pid is another process: reported as the old one gone, then labelled afresh', () => {
    const proc = mkdtempSync(join(tmpdir(), 'pf-proc-'));
    fakeProcess(proc, 4242, 'old-service', 1000);
    const labels = new PidLabels(['pid', 'comm'], undefined, undefined, proc);
    expect(labels.get(4242)).toEqual({ pid: '4242', comm: 'old-service' });
    expect(labels.forgetExited([4242])).toEqual([]);
    // The process exits and the kernel hands its pid to a new one between two reads.
    fakeProcess(proc, 4242, 'new-service', 5000);
    expect(labels.forgetExited([4242])).toEqual([4242]);
    expect(labels.get(4242)).toEqual({ pid: '4242', comm: 'new-service' });
    rmSync(join(proc, '4242'), { recursive: true });
    expect(labels.forgetExited([4242])).toEqual([4242]);
  });
});

describe('watchTargets', () => {
  it('reports starts, a reused pid as an exit and a start, and exits; a known process is not re-read', async () => {
    const proc = mkdtempSync(join(tmpdir(), 'pf-proc-'));
    fakeProcess(proc, 100, 'svc', 1000);
    fakeProcess(proc, 200, 'other', 1000);
    const changes: TargetChange[] = [];
    const sub = watchTargets({ comm: '^svc$' }, 20, { proc }).subscribe((c) => changes.push(c));
    const tick = () => new Promise((r) => setTimeout(r, 60));
    try {
      expect(changes.map((c) => [c.added.map((p) => p.pid), c.removed.map((p) => p.pid)])).toEqual([[[100], []]]);
      // A known process whose comm file vanished is still the same process: only its stat is read.
      rmSync(join(proc, '100', 'comm'));
      await tick();
      expect(changes).toHaveLength(1);
      fakeProcess(proc, 100, 'svc', 2000); // the pid went to a new process
      await tick();
      expect(changes[1]).toMatchObject({ removed: [{ pid: 100, startTime: 1000 }], added: [{ pid: 100, startTime: 2000 }] });
      rmSync(join(proc, '100'), { recursive: true });
      await tick();
      expect(changes[2]).toMatchObject({ added: [], removed: [{ pid: 100, startTime: 2000 }] });
    } finally {
      sub.unsubscribe();
    }
  });

  it('an exec into a running pid (same start time, another binary) is the old program\'s exit and the new one\'s start', async () => {
    const proc = mkdtempSync(join(tmpdir(), 'pf-proc-'));
    fakeProcess(proc, 300, 'svc', 1000, '/bin/sh');
    const changes: TargetChange[] = [];
    const sub = watchTargets({ comm: '^svc$' }, 20, { proc }).subscribe((c) => changes.push(c));
    try {
      fakeProcess(proc, 300, 'svc', 1000, '/bin/true'); // execve keeps pid and start time
      await new Promise((r) => setTimeout(r, 60));
      expect(changes.map((c) => [c.added.map((p) => p.exe), c.removed.map((p) => p.exe)])).toEqual([
        [['/bin/sh'], []],
        [['/bin/true'], ['/bin/sh']],
      ]);
    } finally {
      sub.unsubscribe();
    }
  });

  it('one watcher for every probe: a later subscriber starts from the processes known, each sees only its matches', async () => {
    const proc = mkdtempSync(join(tmpdir(), 'pf-proc-'));
    fakeProcess(proc, 400, 'alpha', 1000);
    fakeProcess(proc, 401, 'beta', 1000);
    const a: TargetChange[] = [];
    const b: TargetChange[] = [];
    const subA = watchTargets({ comm: '^alpha$' }, 20, { proc }).subscribe((c) => a.push(c));
    const subB = watchTargets({ comm: '^beta$' }, 1000, { proc }).subscribe((c) => b.push(c));
    try {
      expect(b.map((c) => c.added.map((p) => p.pid))).toEqual([[401]]);
      fakeProcess(proc, 402, 'beta', 1000);
      await new Promise((r) => setTimeout(r, 60)); // the shortest rescan (alpha's 20 ms) serves both
      expect(b.map((c) => c.added.map((p) => p.pid))).toEqual([[401], [402]]);
      expect(a.map((c) => c.added.map((p) => p.pid))).toEqual([[400]]);
    } finally {
      subA.unsubscribe();
      subB.unsubscribe();
    }
  });
});

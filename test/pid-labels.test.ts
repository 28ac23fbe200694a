import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PidLabels } from '../probes/lib/pid-labels.js';

/** A /proc entry as the kernel lays it out, for the parts PidLabels reads. */
function fakeProcess(proc: string, pid: number, comm: string, startTime: number): void {
  const dir = join(proc, String(pid));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  symlinkSync('/bin/true', join(dir, 'exe'));
  // Field 22 (starttime): state..flags are 7 fields after "(comm) ", then 12 more, then starttime.
  writeFileSync(join(dir, 'stat'), `${pid} (${comm}) S 1 ${pid} ${pid} 0 -1 0 ${'0 '.repeat(12)}${startTime} 0 0\n`);
  writeFileSync(join(dir, 'comm'), `${comm}\n`);
  writeFileSync(join(dir, 'cgroup'), '0::/\n');
}

describe('PidLabels', () => {
  it('a reused pid is another process: reported as the old one gone, then labelled afresh', () => {
    const proc = mkdtempSync(join(tmpdir(), 'pf-proc-'));
    fakeProcess(proc, 4242, 'old-service', 1000);
    const labels = new PidLabels(['pid', 'comm'], undefined, proc);
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

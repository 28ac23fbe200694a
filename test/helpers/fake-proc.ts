import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A /proc/PID entry as the kernel lays it out, for the files readProcess reads. */
export function fakeProcess(proc: string, pid: number, comm: string, startTime: number, exe = '/bin/true'): void {
  const dir = join(proc, String(pid));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  symlinkSync(exe, join(dir, 'exe'));
  // Field 22 (starttime): state..flags are 7 fields after "(comm) ", then 12 more, then starttime.
  writeFileSync(join(dir, 'stat'), `${pid} (${comm}) S 1 ${pid} ${pid} 0 -1 0 ${'0 '.repeat(12)}${startTime} 0 0\n`);
  writeFileSync(join(dir, 'comm'), `${comm}\n`);
  writeFileSync(join(dir, 'cgroup'), '0::/\n');
}

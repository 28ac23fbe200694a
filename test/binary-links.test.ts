import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../engine/util/log.js';
import { BinaryLinks, type AttachedBinary } from '../probes/lib/binary-links.js';
import { ProcessExitedError, type ProcessInfo } from '../probes/lib/processes.js';

const proc = (pid: number): ProcessInfo => ({ pid, comm: 'w', exe: '/bin/w', binaryId: '1:2', startTime: 1, cgroup: '' });

/** A pid whose process has exited and been reaped: /proc/PID is gone. */
function exitedPid(): number {
  return spawnSync('true').pid;
}

describe('BinaryLinks: which failures write a binary off', () => {
  it('a binary declined while its process exited is attached again for the next process', () => {
    const detached: AttachedBinary[] = [];
    const links = new BinaryLinks<AttachedBinary>((b) => detached.push(b), silentLogger, 'uprobes');
    let attempts = 0;
    // What the uprobe probe does when the process exits between reading its binary and attaching: no link, no binary.
    expect(() => links.acquire(proc(exitedPid()), '1:2', () => void attempts++)).toThrow(ProcessExitedError);
    const live = spawn('sleep', ['30']);
    try {
      const b = links.acquire(proc(live.pid!), '1:2', () => (attempts++, { links: [7] }));
      expect(b).toEqual({ links: [7] });
      expect(attempts).toBe(2);
      expect(links.size).toBe(1);
    } finally {
      live.kill();
    }
  });

  it('a binary declined while its process runs is not tried again', () => {
    const links = new BinaryLinks<AttachedBinary>(() => {}, silentLogger, 'uprobes');
    let attempts = 0;
    expect(links.acquire(proc(process.pid), '1:2', () => void attempts++)).toBeUndefined();
    expect(links.acquire(proc(process.pid), '1:2', () => (attempts++, { links: [7] }))).toBeUndefined();
    expect(attempts).toBe(1);
  });

  it('a binary that throws while its process exits is not remembered; one that throws while it runs is', () => {
    const links = new BinaryLinks<AttachedBinary>(() => {}, silentLogger, 'uprobes');
    const fail = () => {
      throw new Error('no symbol work');
    };
    expect(() => links.acquire(proc(exitedPid()), 'a', fail)).toThrow(ProcessExitedError);
    expect(() => links.acquire(proc(process.pid), 'a', fail)).toThrow('no symbol work');
    expect(links.acquire(proc(process.pid), 'a', () => ({ links: [1] }))).toBeUndefined();
  });

  it('links attached for a process that exited meanwhile are let go at once', () => {
    const detached: AttachedBinary[] = [];
    const links = new BinaryLinks<AttachedBinary>((b) => detached.push(b), silentLogger, 'uprobes');
    expect(() => links.acquire(proc(exitedPid()), '1:2', () => ({ links: [3] }))).toThrow(ProcessExitedError);
    expect(detached).toEqual([{ links: [3] }]);
    expect(links.size).toBe(0);
  });
});

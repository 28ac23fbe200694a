import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { uprobeProbe } from '../../probes/uprobe.js';
import { waitFor } from '../helpers/cli.js';
import { runProbe } from '../helpers/probe-harness.js';
import { buildC, startWorkload } from '../helpers/workloads.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'pf-discovery-'));
/** Far longer than any wait here: a process found in time was found by a kernel event. */
const NO_RESCAN = '10m';
const probeOn = (exe: string) => runProbe(uprobeProbe, { target: { exe }, interval: '100ms', rescan: NO_RESCAN, points: [{ name: 'work_calls', symbol: 'work' }] });

describe('process discovery by kernel events (sched_process_fork/exec/exit)', () => {
  it('finds a process that starts, without a rescan, and ends its series when it exits', async () => {
    const bin = join(tmp(), 'pf-found');
    copyFileSync(buildC(), bin);
    const p = probeOn(bin);
    try {
      const w = await startWorkload(bin, 6);
      await p.tracking(w.pid);
      await w.go();
      await p.waitValue('work_calls_total', w.pid, 6);
      await w.finish();
      // The final read goes out marked: sinks drop the series now, not at their TTL.
      await waitFor(() => p.ended.some((s) => s.labels.pid === String(w.pid)), 5000, 'the ended series');
      expect(p.ended.find((s) => s.labels.pid === String(w.pid))).toMatchObject({ name: 'work_calls_total', value: 6 });
      expect(p.error).toBeUndefined();
    } finally {
      p.stop();
    }
  });

  it.each([
    ['by its exec event', NO_RESCAN, 'on'],
    ['by the /proc rescan where the kernel cannot tell (its binary inode changed under the same start time)', '100ms', 'off'],
  ])('an exec of the target binary into a running pid is found and counted: %s', async (_how, rescan, events) => {
    const bin = join(tmp(), 'pf-execd');
    copyFileSync(buildC(), bin);
    if (events === 'off') process.env.PROBEFLOW_PROCESS_EVENTS = 'off';
    const p = runProbe(uprobeProbe, { target: { exe: bin }, interval: '100ms', rescan, points: [{ name: 'work_calls', symbol: 'work' }] });
    delete process.env.PROBEFLOW_PROCESS_EVENTS;
    // A shell that becomes the workload: same pid, new binary (what an entrypoint script does).
    const sh = spawn('sh', ['-c', `read line; exec ${bin} 4`], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    sh.stdout!.on('data', (d) => (out += d));
    const exited = new Promise((r) => sh.once('exit', r));
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect(p.logs.some((l) => l.msg === 'tracking process')).toBe(false); // sh is not the target
      sh.stdin!.write('\n');
      await waitFor(() => out.includes('ready'), 10_000, 'the exec');
      await p.tracking(sh.pid!);
      sh.stdin!.write('\n');
      await waitFor(() => out.includes('done'), 10_000, 'the calls');
      await p.waitValue('work_calls_total', sh.pid!, 4);
      expect(p.error).toBeUndefined();
    } finally {
      sh.stdin!.end('\n');
      await exited;
      p.stop();
    }
  });

  it('a binary replaced on disk (same path, new inode: an image upgrade) is probed anew; each process counts exactly', async () => {
    const dir = tmp();
    const bin = join(dir, 'pf-upgraded');
    copyFileSync(buildC(), bin);
    const p = probeOn(bin);
    try {
      const old = await startWorkload(bin, 3);
      await p.tracking(old.pid);
      const oldInode = statSync(bin).ino;
      copyFileSync(buildC(), `${bin}.new`);
      renameSync(`${bin}.new`, bin); // what a package manager or an image layer does
      expect(statSync(bin).ino).not.toBe(oldInode);
      const fresh = await startWorkload(bin, 5);
      await p.tracking(fresh.pid);
      await old.go();
      await fresh.go();
      await p.waitValue('work_calls_total', old.pid, 3);
      await p.waitValue('work_calls_total', fresh.pid, 5);
      expect(p.logs.filter((l) => l.msg === 'uprobes attached')).toHaveLength(2); // one per inode
      await old.finish();
      await waitFor(() => p.logs.some((l) => l.msg === 'uprobes detached: no process runs this binary any more'), 5000, 'the old inode to be detached');
      expect(p.value('work_calls_total', fresh.pid)).toBe(5);
      await fresh.finish();
      expect(p.error).toBeUndefined();
    } finally {
      p.stop();
    }
  });

  it('a reused pid is a new process: the old one\'s series ended, the new one counts from zero', async () => {
    const bin = join(tmp(), 'pf-reused');
    copyFileSync(buildC(), bin);
    const p = probeOn(bin);
    try {
      const first = await startWorkload(bin, 3);
      await p.tracking(first.pid);
      await first.go();
      await p.waitValue('work_calls_total', first.pid, 3);
      await first.finish();
      await waitFor(() => p.ended.some((s) => s.labels.pid === String(first.pid)), 5000, 'the first process\'s end');
      // Ask the kernel for the same pid again (root may set the next pid: the CRIU interface).
      let second;
      for (let attempt = 0; attempt < 20 && second?.pid !== first.pid; attempt++) {
        if (second) await second.finish();
        writeFileSync('/proc/sys/kernel/ns_last_pid', String(first.pid - 1));
        second = await startWorkload(bin, 4);
      }
      expect(second!.pid).toBe(first.pid);
      // The probe must see the second process: its waitValue below would otherwise keep reading the first's 3.
      await waitFor(() => p.logs.filter((l) => l.msg === 'tracking process' && l.fields.pid === first.pid).length === 2, 10_000, 'the new process on the old pid');
      await second!.go();
      await p.waitValue('work_calls_total', second!.pid, 4); // not 3 + 4
      await second!.finish();
      expect(p.error).toBeUndefined();
    } finally {
      p.stop();
    }
  });
});

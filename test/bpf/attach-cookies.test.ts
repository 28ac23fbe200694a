import { release } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { BpfObject, bundledObjectPath, kernelHasAttachCookies } from '../../engine/bpf/bpf-object.js';
import { releasesSettled } from '../../engine/bpf/kernel-releases.js';
import { BinarySymbols } from '../../probes/lib/binary-symbols.js';
import { tracepointProbe } from '../../probes/tracepoint.js';
import { uprobeProbe } from '../../probes/uprobe.js';
import { ourKernelObjects, settledKernelObjects } from '../helpers/kernel-objects.js';
import { runProbe } from '../helpers/probe-harness.js';
import { buildC, startWorkload } from '../helpers/workloads.js';

/**
 * Kernels before 5.15 (CCE's 4.18–5.10) have no bpf_get_attach_cookie, so a program cannot tell
 * its attachments apart: BpfObject loads one copy of the program per cookie, every map shared.
 * Here (6.18) PROBEFLOW_ATTACH_COOKIES=off takes that path; in the 5.10 QEMU guest
 * (make test-kernels) it is the kernel's own answer.
 */
const [major = 0, minor = 0] = release().split(/[.-]/).map(Number);
const kernelHasThem = major > 5 || (major === 5 && minor >= 15);

describe('attach cookies', () => {
  afterEach(() => {
    delete process.env.PROBEFLOW_ATTACH_COOKIES;
  });

  it(`are detected as the kernel has them (Linux ${release()}: ${kernelHasThem ? 'yes' : 'no'}, 5.15+)`, () => {
    expect(kernelHasAttachCookies()).toBe(kernelHasThem);
    process.env.PROBEFLOW_ATTACH_COOKIES = 'off';
    expect(kernelHasAttachCookies()).toBe(false);
  });

  it('without them: one program copy per cookie sharing the maps; three points counted apart, exactly; all released', async () => {
    process.env.PROBEFLOW_ATTACH_COOKIES = 'off';
    const w = await startWorkload(buildC(), 432);
    const points = [
      { name: 'ck_work', symbol: 'work' },
      { name: 'ck_entry', symbol: 'work', at_entry: true },
      { name: 'ck_arg', symbol: 'work', arg: { c: 1 } },
    ];
    const p = runProbe(uprobeProbe, { target: { pid: w.pid }, interval: '100ms', rescan: '50ms', points });
    try {
      await p.tracking(w.pid);
      // The object itself serves cookie 0; cookies 1 and 2 get a copy each.
      expect(ourKernelObjects('probes')).toEqual({ programs: 3, links: 3 });
      await w.go();
      await p.waitValue('ck_work_total', w.pid, 432);
      await p.waitValue('ck_entry_total', w.pid, 432);
      await p.waitValue('ck_arg_total', w.pid, 432);
      expect(p.value('ck_arg_arg_sum', w.pid)).toBe((431 * 432) / 2);
      expect(p.value('ck_work_arg_sum', w.pid)).toBeUndefined();
      expect(p.error).toBeUndefined();
    } finally {
      p.stop();
      await w.finish();
    }
    expect(await releasesSettled(Date.now() + 20_000)).toBe(true);
    expect(await settledKernelObjects()).toEqual({ programs: 0, links: 0 });
  });

  it('without them: a copy per distinct cookie, not per attachment; detaching a copy\'s link releases it', async () => {
    process.env.PROBEFLOW_ATTACH_COOKIES = 'off';
    const w = await startWorkload(buildC(), 10);
    const obj = new BpfObject(bundledObjectPath('probe_hits')).only('on_hit').load();
    try {
      const f = BinarySymbols.open(`/proc/${w.pid}/exe`).resolve('work', { at: 'entry' });
      const links = [0, 5, 5, 7].map((cookie) => obj.attachUprobe('on_hit', `/proc/${w.pid}/exe`, f.fileOffset, w.pid, cookie));
      expect(obj.cookieCopies()).toBe(2);
      expect(ourKernelObjects('probes')).toEqual({ programs: 3, links: 4 });
      expect(links.slice(1).every((l) => obj.linkId(l) > 0)).toBe(kernelHasThem);
      obj.detach(links.slice(1, 3));
      expect(await releasesSettled(Date.now() + 20_000)).toBe(true);
      expect(ourKernelObjects('probes').links).toBe(2);
    } finally {
      obj.close();
      await w.finish();
    }
    expect(await settledKernelObjects()).toEqual({ programs: 0, links: 0 });
  });

  it('without them: classic tracepoints, two events counted apart', async () => {
    process.env.PROBEFLOW_ATTACH_COOKIES = 'off';
    const w = await startWorkload(buildC(), 250);
    const p = runProbe(tracepointProbe, {
      target: { pid: w.pid },
      interval: '100ms',
      rescan: '50ms',
      tracepoints: [
        { name: 'ck_write', event: 'syscalls:sys_enter_write' },
        { name: 'ck_getpid', event: 'syscalls:sys_enter_getpid' },
      ],
    });
    try {
      await p.tracking(w.pid);
      await w.go();
      await p.waitValue('ck_getpid_total', w.pid, 250);
      // The workload writes "done …" once after its loop (stdout is a pipe: one write).
      await p.waitValue('ck_write_total', w.pid, 1);
      expect(p.error).toBeUndefined();
    } finally {
      p.stop();
      await w.finish();
    }
    expect(await settledKernelObjects()).toEqual({ programs: 0, links: 0 });
  });
});

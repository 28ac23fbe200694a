import { describe, expect, it } from 'vitest';
import { release } from 'node:os';
import { BpfObject, bundledObjectPath, kernelHasUprobeMulti } from '../../engine/bpf/bpf-object.js';
import { uprobeProbe } from '../../probes/uprobe.js';
import { runProbe } from '../helpers/probe-harness.js';
import { linksReleased, releasesInFlight, releasesSettled, trackRelease } from '../../engine/bpf/kernel-releases.js';
import { BinarySymbols } from '../../probes/lib/binary-symbols.js';
import { ourKernelObjects, settledKernelObjects } from '../helpers/kernel-objects.js';
import { buildC, startWorkload } from '../helpers/workloads.js';

/**
 * Links are closed off the main thread (the kernel takes ~0.1 s a link): detach() and close()
 * return at once, the kernel really lets go afterwards, and shutdown can wait for it.
 * How long it takes, and that the event loop stays free, is measured in bench/detach.ts.
 */
describe('releasing BPF links off the main thread', () => {
  it('detach() and close() hand links to the closer; releasesSettled() waits until the kernel let go', async () => {
    const w = await startWorkload(buildC(), 10);
    try {
      const f = BinarySymbols.open(`/proc/${w.pid}/exe`).resolve('work', { at: 'entry' });
      const before = linksReleased();
      const obj = new BpfObject(bundledObjectPath('probe_hits')).load();
      const links = Array.from({ length: 12 }, () => obj.attachUprobe('on_hit', `/proc/${w.pid}/exe`, f.fileOffset, w.pid, 0));
      expect(ourKernelObjects().links).toBe(12);
      obj.detach(links.slice(0, 6));
      obj.close(); // the other six, the program and the maps
      expect(releasesInFlight()).toBe(2);
      expect(await releasesSettled(Date.now() + 20_000)).toBe(true);
      expect(releasesInFlight()).toBe(0);
      expect(linksReleased() - before).toBe(12);
      expect(await settledKernelObjects()).toEqual({ programs: 0, links: 0 });
    } finally {
      await w.finish();
    }
  });

  for (const mode of ['uprobe_multi', 'single links (kernels before 6.6; PROBEFLOW_UPROBE_MULTI=off)'] as const) {
    const single = mode !== 'uprobe_multi';
    const lacking = !single && !kernelHasUprobeMulti() ? `kernel ${release()} has no uprobe_multi (6.6+)` : undefined;
    it.skipIf(lacking !== undefined)(`uprobe probe with ${mode}: exact counts of two points, and everything released${lacking ? ` (skipped: ${lacking})` : ''}`, async () => {
      if (single) process.env.PROBEFLOW_UPROBE_MULTI = 'off';
      const w = await startWorkload(buildC(), 321);
      const p = runProbe(uprobeProbe, { target: { pid: w.pid }, interval: '100ms', rescan: '50ms', points: [{ name: 'rel_work', symbol: 'work' }, { name: 'rel_entry', symbol: 'work', at_entry: true }] });
      try {
        await p.tracking(w.pid);
        const attached = p.logs.find((l) => l.msg === 'uprobes attached')!;
        expect(attached.fields).toMatchObject({ points: 2, links: single ? 2 : 1 });
        await w.go();
        await p.waitValue('rel_work_total', w.pid, 321);
        await p.waitValue('rel_entry_total', w.pid, 321);
      } finally {
        delete process.env.PROBEFLOW_UPROBE_MULTI;
        p.stop();
        await w.finish();
      }
      expect(await releasesSettled(Date.now() + 20_000)).toBe(true);
      expect(await settledKernelObjects()).toEqual({ programs: 0, links: 0 });
    });
  }

  it('a deadline that comes first says so; the release is still waited for afterwards', async () => {
    expect(await releasesSettled(Date.now() + 20_000)).toBe(true); // what earlier tests started
    let finish!: (n: number) => void;
    trackRelease(new Promise<number>((r) => (finish = r)), 'a release held open by the test');
    expect(await releasesSettled(Date.now() + 50)).toBe(false);
    expect(releasesInFlight()).toBe(1);
    finish(3);
    expect(await releasesSettled(Date.now() + 1000)).toBe(true);
    expect(releasesInFlight()).toBe(0);
  });
});

import type { HistogramSample } from '../../engine/model/sample.js';
import { afterAll, describe, expect, it } from 'vitest';
import { uprobeProbe } from '../../probes/uprobe.js';
import { BinarySymbols } from '../../probes/lib/binary-symbols.js';
import { settledKernelObjects } from '../helpers/kernel-objects.js';
import { runProbe } from '../helpers/probe-harness.js';
import { buildC, buildGo, startWorkload, type GoFlavour } from '../helpers/workloads.js';

const fast = { interval: '100ms', rescan: '50ms' };

describe('uprobe probe (real kernel, real processes)', () => {
  afterAll(async () => {
    expect(await settledKernelObjects()).toEqual({ programs: 0, links: 0 });
  });

  it('counts exactly the calls of a C workload, with the argument summed and histogrammed', async () => {
    const bin = buildC();
    const w = await startWorkload(bin, 5000);
    const p = runProbe(uprobeProbe, { ...fast, target: { pid: w.pid }, points: [{ name: 'work_calls', symbol: 'work', arg: { c: 1 } }] });
    try {
      await p.tracking(w.pid);
      await w.go();
      await p.waitValue('work_calls_total', w.pid, 5000);
      expect(p.value('work_calls_arg_sum', w.pid)).toBe((4999 * 5000) / 2);
      const h = p.sample('work_calls_arg', w.pid);
      expect(h).toMatchObject({ kind: 'histogram', count: 5000, sum: (4999 * 5000) / 2 });
      // log2 buckets: le=0 holds 0, le=1 holds 1, le=3 holds 2..3, le=4095 holds 2048..4095.
      expect((h as HistogramSample).counts.slice(0, 3)).toEqual([1, 1, 2]);
      expect(p.sample('work_calls_total', w.pid)!.labels).toMatchObject({ pid: String(w.pid), comm: expect.stringMatching(/^calls-c/), exe: bin });
    } finally {
      p.stop();
      await w.finish();
    }
  });

  for (const flavour of ['plain', 'stripped', 'pie'] as GoFlavour[]) {
    it(`counts exactly the calls of a Go workload (${flavour} build) after the stack-check prologue`, async () => {
      const bin = buildGo(flavour);
      const sym = BinarySymbols.open(bin);
      expect(sym.go?.version).toMatch(/^go1\./);
      if (flavour === 'stripped') expect(sym.resolve('main.work').source).toBe('gopclntab');
      if (process.arch === 'arm64') {
        // ldr x16,[x28,#16]; cmp sp,x16; b.ls: on the (simulated) b.ls, others after it.
        expect(sym.resolve('main.work', { at: 'stack_check' })).toMatchObject({ attachDelta: 8, stackCheck: 'sp' });
        expect(sym.resolve('main.work').attachDelta).toBe(12);
      } else {
        // cmp 0x10(%r14),%rsp; jbe: our probes sit on the (emulated) jbe, others after it.
        expect(sym.resolve('main.work', { at: 'stack_check' })).toMatchObject({ attachDelta: 4, stackCheck: 'rsp' });
        expect([6, 10]).toContain(sym.resolve('main.work').attachDelta);
      }
      const w = await startWorkload(bin, 3000);
      const p = runProbe(uprobeProbe, { ...fast, target: { pid: w.pid }, points: [{ name: 'go_work', symbol: 'main.work', arg: { go: 1 } }] });
      try {
        await p.tracking(w.pid);
        await w.go();
        await p.waitValue('go_work_total', w.pid, 3000);
        expect(p.value('go_work_arg_sum', w.pid)).toBe((2999 * 3000) / 2);
      } finally {
        p.stop();
        await w.finish();
      }
    });
  }

  it('picks up a process that starts after the probe, tells two instances apart, and detaches on exit', async () => {
    const bin = buildC();
    const p = runProbe(uprobeProbe, { ...fast, target: { exe: bin }, points: [{ name: 'work_calls', symbol: 'work' }] });
    try {
      const a = await startWorkload(bin, 100);
      const b = await startWorkload(bin, 250);
      await p.tracking(a.pid);
      await p.tracking(b.pid);
      await a.go();
      await b.go();
      await p.waitValue('work_calls_total', a.pid, 100);
      await p.waitValue('work_calls_total', b.pid, 250);
      // One attachment for the binary, shared by both processes.
      expect(p.logs.filter((l) => l.msg === 'uprobes attached')).toHaveLength(1);
      await a.finish();
      await b.finish();
      await waitForLog(p, 'uprobes detached: no process runs this binary any more');
      expect((await settledKernelObjects(3000, 'probes')).links).toBe(0); // the watcher's stay while the probe runs
      expect(p.error).toBeUndefined();
    } finally {
      p.stop();
    }
    expect(await settledKernelObjects()).toEqual({ programs: 0, links: 0 });
  });

  it('counts only the targeted instance when another runs the same binary', async () => {
    const bin = buildC();
    const target = await startWorkload(bin, 70);
    const other = await startWorkload(bin, 900);
    const p = runProbe(uprobeProbe, { ...fast, target: { pid: target.pid }, points: [{ name: 'work_calls', symbol: 'work' }] });
    try {
      await p.tracking(target.pid);
      await other.go();
      await target.go();
      await p.waitValue('work_calls_total', target.pid, 70);
      await new Promise((r) => setTimeout(r, 250));
      expect(p.value('work_calls_total', other.pid)).toBeUndefined();
    } finally {
      p.stop();
      await target.finish();
      await other.finish();
    }
  });

  it('reports a missing symbol with near matches and keeps running', async () => {
    const bin = buildC();
    const w = await startWorkload(bin, 1);
    const p = runProbe(uprobeProbe, { ...fast, target: { pid: w.pid }, points: [{ name: 'x', symbol: 'no_such_function' }] });
    try {
      await waitForLog(p, 'cannot probe this binary; its processes are skipped');
      const entry = p.logs.find((l) => l.msg === 'cannot probe this binary; its processes are skipped')!;
      expect(String((entry.fields.error as { message: string }).message)).toMatch(/no function "no_such_function"/);
      expect(p.error).toBeUndefined();
    } finally {
      p.stop();
      await w.finish();
    }
  });
});

async function waitForLog(p: ReturnType<typeof runProbe>, msg: string) {
  const { waitFor } = await import('../helpers/cli.js');
  await waitFor(() => p.logs.some((l) => l.msg === msg), 10_000, `log "${msg}"`);
}

import type { HistogramSample } from '../../engine/model/sample.js';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bpfObjectProbe } from '../../probes/bpf-object.js';
import { waitFor } from '../helpers/cli.js';
import { attachmentsOf, settledKernelObjects } from '../helpers/kernel-objects.js';
import { runProbe } from '../helpers/probe-harness.js';
import { buildByoObject, buildC, startWorkload } from '../helpers/workloads.js';

describe('bpf_object probe (your own .bpf.o)', () => {
  afterAll(async () => {
    // The user's programs are named by the user; check ours are gone and the link count is 0 of theirs.
    const left = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' })) as { name?: string }[];
    expect(left.filter((p) => p.name === 'count_exec' || p.name === 'on_work')).toEqual([]);
    expect(await settledKernelObjects()).toEqual({ programs: 0, links: 0 });
  });

  it('auto-attaches by SEC(), attaches a uprobe by config, and decodes counters and exp2 histograms', async () => {
    const object = buildByoObject();
    const w = await startWorkload(buildC(), 1000);
    const p = runProbe(bpfObjectProbe, {
      object,
      interval: '100ms',
      rescan: '50ms',
      attach: [
        { program: 'count_exec', auto: true },
        { program: 'on_work', uprobe: { target: { pid: w.pid }, symbol: 'work' } },
      ],
      metrics: {
        counters: [{ name: 'byo_exec_total', labels: [{ name: 'comm', size: 16, decoders: [{ name: 'string' }] }] }],
        histograms: [
          {
            name: 'byo_work_arg',
            bucket_type: 'exp2',
            bucket_min: 0,
            bucket_max: 12,
            labels: [
              { name: 'pid', size: 4, decoders: [{ name: 'uint' }] },
              { name: 'bucket', size: 4, decoders: [{ name: 'uint' }] },
            ],
          },
        ],
      },
    });
    const dir = mkdtempSync(join(tmpdir(), 'pf-'));
    const bin = join(dir, `byoexec${process.pid % 1000}`);
    copyFileSync('/bin/true', bin);
    try {
      await waitFor(() => p.logs.some((l) => l.msg === 'bpf_object uprobe attached'), 10_000, 'uprobe attach');
      await w.go();
      for (let i = 0; i < 4; i++) execFileSync(bin);
      const comm = bin.split('/').pop()!;
      await waitFor(() => [...p.latest.values()].some((s) => s.name === 'byo_exec_total' && s.labels.comm === comm && s.kind === 'counter' && s.value === 4), 10_000, '4 execs');
      await waitFor(() => (p.sample('byo_work_arg', w.pid) as { count?: number } | undefined)?.count === 1000, 10_000, '1000 calls');
      const h = p.sample('byo_work_arg', w.pid) as HistogramSample;
      expect(h.bounds.slice(0, 4)).toEqual([1, 2, 4, 8]);
      // 0..999 by exp2 bucket: {0}, {1}, {2,3}, {4..7}, … {512..999}.
      expect(h.counts).toEqual([1, 1, 2, 4, 8, 16, 32, 64, 128, 256, 488, 0, 0, 0]);
    } finally {
      p.stop();
      await w.finish();
    }
  });

  it('detaches a binary\'s uprobe link when its last process exits; the object\'s other links stay', async () => {
    const linksOf = attachmentsOf;
    const w = await startWorkload(buildC(), 10);
    const p = runProbe(bpfObjectProbe, {
      object: buildByoObject(),
      rescan: '50ms',
      attach: [
        { program: 'count_exec', auto: true },
        { program: 'on_work', uprobe: { target: { pid: w.pid }, symbol: 'work' } },
      ],
      metrics: { counters: [{ name: 'byo_exec_total', labels: [{ name: 'comm', size: 16, decoders: [{ name: 'string' }] }] }] },
    });
    try {
      await waitFor(() => p.logs.some((l) => l.msg === 'bpf_object uprobe attached'), 10_000, 'uprobe attach');
      expect(linksOf('on_work')).toBe(1);
      await w.finish();
      await waitFor(() => p.logs.some((l) => l.msg === 'bpf_object uprobe detached: no process runs this binary any more'), 10_000, 'the detach');
      await waitFor(() => linksOf('on_work') === 0, 5000, 'the kernel to release the link');
      expect(linksOf('count_exec')).toBe(1);
      expect(p.error).toBeUndefined();
    } finally {
      p.stop();
    }
  });

  it('a uprobe whose symbol the target lacks skips that process with the reason; the probe and the agent stay up', async () => {
    // Before: the throw inside the target handler was an uncaught exception that ended the agent.
    const w = await startWorkload(buildC(), 10);
    const p = runProbe(bpfObjectProbe, {
      object: buildByoObject(),
      rescan: '100ms',
      attach: [{ program: 'on_work', uprobe: { target: { pid: w.pid }, symbol: 'no_such_function' } }],
      metrics: { counters: [{ name: 'byo_exec_total', labels: [{ name: 'comm', size: 16, decoders: [{ name: 'string' }] }] }] },
    });
    try {
      await waitFor(() => p.logs.some((l) => l.msg === 'process not probed: attaching it failed; the others go on'), 10_000, 'the skip warning');
      const warning = p.logs.find((l) => l.msg === 'process not probed: attaching it failed; the others go on')!;
      expect(warning.fields).toMatchObject({ pid: w.pid, error: expect.stringMatching(/no_such_function/) });
      await new Promise((r) => setTimeout(r, 300));
      expect(p.error).toBeUndefined();
    } finally {
      p.stop();
      await w.finish();
    }
  });

  it('refuses labels that do not cover the map key, naming both sizes', async () => {
    const p = runProbe(bpfObjectProbe, {
      object: buildByoObject(),
      metrics: { counters: [{ name: 'byo_exec_total', labels: [{ name: 'comm', size: 8, decoders: [{ name: 'string' }] }] }] },
    });
    await waitFor(() => p.error !== undefined, 5000, 'error');
    expect((p.error as Error).message).toMatch(/labels cover 8 key bytes but map "byo_exec_total" has 16-byte keys/);
    p.stop();
  });

  it('names the maps there are when a metric has none', async () => {
    const p = runProbe(bpfObjectProbe, { object: buildByoObject(), metrics: { counters: [{ name: 'nope_total' }] } });
    await waitFor(() => p.error !== undefined, 5000, 'error');
    expect((p.error as Error).message).toMatch(/no map named "nope_total"; the object has: byo_exec_total, byo_work_arg/);
    p.stop();
  });
});

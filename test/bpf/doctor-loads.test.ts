import { release } from 'node:os';
import { describe, expect, it } from 'vitest';
import { runChecks } from '../../engine/bpf/doctor.js';
import { settledKernelObjects } from '../helpers/kernel-objects.js';

/**
 * `probeflow doctor` loads every bundled object for real. Here and in each QEMU guest
 * (make test-kernels: 6.1, 5.10) the kernel must accept all of them — the programs were
 * written for 5.10's verifier — and doctor must leave nothing loaded.
 */
describe(`doctor on Linux ${release()}`, () => {
  it('the kernel loads every bundled BPF object, and nothing stays loaded', async () => {
    const loads = runChecks({ load: true }).filter((c) => c.name.startsWith('loads '));
    expect(loads.map((c) => c.name)).toEqual(['loads probe_hits', 'loads tracepoint_hits', 'loads go_runtime', 'loads process_events']);
    for (const c of loads) expect({ name: c.name, ok: c.ok, detail: c.detail }).toMatchObject({ ok: true });
    expect(await settledKernelObjects()).toEqual({ programs: 0, links: 0 });
  });
});

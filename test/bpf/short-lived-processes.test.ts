import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { uprobeProbe } from '../../probes/uprobe.js';
import { waitFor } from '../helpers/cli.js';
import { runProbe } from '../helpers/probe-harness.js';
import { settledKernelObjects } from '../helpers/kernel-objects.js';
import { buildC, startWorkload } from '../helpers/workloads.js';

const PROCESSES = 5000;
const AT_ONCE = 24;

/** Entries in each map of our on_hit program, as the kernel holds them (bpftool's view). */
function onHitMapEntries(): Record<string, number> {
  const progs = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' })) as { name?: string; map_ids?: number[] }[];
  const out: Record<string, number> = {};
  for (const prog of progs.filter((p) => p.name === 'on_hit')) {
    for (const id of prog.map_ids ?? []) {
      const info = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show', 'id', String(id)], { encoding: 'utf8' })) as { name: string; type: string };
      if (info.type !== 'hash' && info.type !== 'percpu_hash') continue;
      const entries = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'dump', 'id', String(id)], { encoding: 'utf8' }) || '[]') as unknown[];
      out[info.name] = (out[info.name] ?? 0) + entries.length;
    }
  }
  return out;
}

const fds = () => readdirSync('/proc/self/fd').length;

// A collection before each look, so what is measured is what stays reachable, not garbage not yet collected.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function memory(): { rss: number; heap: number } {
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.external };
}

/** One run of the workload that lives ~40 ms (found, attached, counted, detached) and exits. */
function shortLived(bin: string): Promise<void> {
  return new Promise((resolve) => {
    const c = spawn(bin, ['1'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const t = setTimeout(() => c.stdin!.end(), 40);
    c.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

describe('node churn', () => {
  it(`${PROCESSES} short-lived processes leave no links, map entries, fds or memory behind`, { timeout: 240_000 }, async () => {
    const bin = join(mkdtempSync(join(tmpdir(), 'pf-churn-')), 'pf-churn');
    copyFileSync(buildC(), bin);
    const p = runProbe(uprobeProbe, { target: { exe: bin }, interval: '200ms', rescan: '5s', points: [{ name: 'work_calls', symbol: 'work' }] });
    try {
      // Warm up: one process through the whole path, so first-use allocations are not counted as growth.
      const w = await startWorkload(bin, 2);
      await p.tracking(w.pid);
      await w.go();
      await p.waitValue('work_calls_total', w.pid, 2);
      await w.finish();
      await waitFor(() => p.logs.some((l) => l.msg === 'uprobes detached: no process runs this binary any more'), 5000, 'the warm-up detach');
      const before = { fds: fds(), ...memory(), maps: onHitMapEntries(), objects: await settledKernelObjects(3000, 'probes') };

      // Two rounds: a leak grows with every round; the allocator's and the thread pool's first
      // growth (glibc arenas, the link closer's threads) happens once and stays.
      const round = async () => {
        const started = Date.now();
        let next = 0;
        await Promise.all(
          Array.from({ length: AT_ONCE }, async () => {
            while (next++ < PROCESSES) await shortLived(bin);
          }),
        );
        const seconds = (Date.now() - started) / 1000;
        const tracked = p.logs.filter((l) => l.msg === 'tracking process').length;
        const attaches = p.logs.filter((l) => l.msg === 'uprobes attached').length;
        await waitFor(() => onHitMapEntries().target_pids === 0, 10_000, 'the pid filter to empty');
        // What the harness keeps for every process (its logs, last values) is the test's, not the probe's.
        const kept = p.logs.length;
        p.logs.length = 0;
        p.ended.length = 0;
        p.latest.clear();
        return { seconds, tracked, attaches, kept, fds: fds(), ...memory(), maps: onHitMapEntries(), objects: await settledKernelObjects(10_000, 'probes') };
      };
      const first = await round();
      const after = await round();
      const mib = (n: number) => (n / 2 ** 20).toFixed(1);
      for (const [i, r] of [first, after].entries()) {
        console.log(
          `round ${i + 1}: ${PROCESSES} processes in ${r.seconds.toFixed(1)} s, ${r.tracked} tracked, binary attached ${r.attaches} times; ` +
            `fds ${r.fds}, RSS ${mib(r.rss)} MiB, heap ${mib(r.heap)} MiB, maps ${JSON.stringify(r.maps)}, links ${r.objects.links} (before: fds ${before.fds}, RSS ${mib(before.rss)}, heap ${mib(before.heap)})`,
        );
      }
      const tracked = after.tracked;
      // Most live long enough to be probed: the test is of the whole attach/detach path, not of missing them.
      expect(tracked).toBeGreaterThan(PROCESSES / 2);
      expect(after.maps).toEqual(before.maps);
      expect(after.maps.hits).toBe(0);
      // The probe's own program stays loaded; its per-binary links are gone with the last process.
      expect(after.objects.links).toBe(0);
      expect(before.objects.links).toBe(0);
      expect(after.fds).toBeLessThanOrEqual(before.fds + 2);
      // A leak of 1 KB per process would be 5 MB of heap here, and of RSS from round to round.
      expect(after.heap - before.heap).toBeLessThan(2 * 2 ** 20);
      expect(after.rss - first.rss).toBeLessThan(8 * 2 ** 20);
      expect(p.error).toBeUndefined();
    } finally {
      p.stop();
    }
  });
});

import type { HistogramSample, Sample } from '../../engine/model/sample.js';
import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { goRuntimeProbe } from '../../probes/go-runtime.js';
import { waitFor } from '../helpers/cli.js';
import { startFidelityWorkload } from '../helpers/go-fidelity-workload.js';
import { goToolchains } from '../helpers/go-toolchains.js';
import { settledKernelObjects } from '../helpers/kernel-objects.js';
import { runProbe } from '../helpers/probe-harness.js';
import { buildGoProgram, type GoFlavour } from '../helpers/workloads.js';

/** Set by environment, as operators set them: the probe must read back exactly these. */
const GOGC = 150;
const GOMEMLIMIT = 3 * 2 ** 30;

const minorOf = (version: string) => Number(version.split('.')[1]);
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

describe('go_runtime probe vs the workload’s own runtime/metrics', () => {
  afterAll(async () => {
    expect(await settledKernelObjects()).toEqual({ programs: 0, links: 0 });
  });

  const toolchains = goToolchains();
  it('has the Go version matrix to test (1.19 and 1.21–1.24; run scripts/fetch-go-toolchains.sh)', () => {
    expect(toolchains.map((t) => t.version)).toEqual(['1.19', '1.21', '1.22', '1.23', '1.24']);
  });

  for (const tc of toolchains) {
    for (const flavour of ['plain', 'stripped', 'cgo'] as GoFlavour[]) {
      it(`Go ${tc.version} (${flavour}): GC cycles and pauses exact, allocation within bounds, blocked time within 10%, gauges plausible`, async () => {
        const bin = buildGoProgram('go-fidelity', flavour, tc);
        const w = startFidelityWorkload(bin, { GOGC: String(GOGC), GOMEMLIMIT: `${GOMEMLIMIT / 2 ** 30}GiB` });
        const ready = await w.phase('ready');
        const fast = { target: { pid: w.pid }, interval: '200ms', rescan: '50ms' };
        const cheap = runProbe(goRuntimeProbe, fast);
        const exact = runProbe(goRuntimeProbe, { ...fast, metrics: ['alloc'], alloc_mode: 'exact' });
        // Opt-in: it probes every goroutine switch. Sampled 1 in 8, as Go samples its own.
        const latency = runProbe(goRuntimeProbe, { ...fast, metrics: ['sched_latency'] });
        try {
          await cheap.tracking(w.pid);
          await exact.tracking(w.pid);
          await latency.tracking(w.pid);
          // The pause histograms exist from attach on, before any pause: rate() needs the series.
          await waitFor(() => cheap.series('go_gc_pause_seconds', w.pid).length > 0, 5000, 'pause series from attach');
          // Before 1.21 too: who stopped the world tells GC from other pauses, and mark termination
          // ends in gcMarkTermination.
          expect(cheap.series('go_gc_pause_seconds', w.pid).map((h) => h.labels.phase).sort()).toEqual(['mark_termination', 'sweep_termination']);
          // Blocked time too, for the wait reasons application code waits on: 0 until a wakeup.
          const blockedReasons = () => cheap.series('go_sched_goroutines_blocked_seconds_total', w.pid).map((b) => b.labels.reason);
          await waitFor(() => blockedReasons().includes('select'), 5000, 'blocked-time series from attach');
          expect(blockedReasons()).toEqual(expect.arrayContaining(['chan receive', 'chan send', 'select', 'sleep', minorOf(tc.version) >= 20 ? 'sync.Mutex.Lock' : 'semacquire']));
          w.next();
          const done = await w.phase('done');
          // Counters are absolute: seeded at attach from the runtime's own totals, so the cycles and
          // the ~12 MB the workload did before the probe attached are in them.
          expect(ready.gc_cycles).toBeGreaterThanOrEqual(4);
          await cheap.waitValue('go_gc_cycles_total', w.pid, done.gc_cycles);

          // Allocation: the runtime's own count, absolute and since the probe attached.
          const allocs = done.allocs_bytes - ready.allocs_bytes;
          await waitFor(() => (exact.value('go_mem_alloc_bytes_total', w.pid) ?? 0) >= done.allocs_bytes * 0.99, 5000, 'exact alloc to settle');
          const absErr = (probe: typeof cheap) => (probe.value('go_mem_alloc_bytes_total', w.pid)! - done.allocs_bytes) / done.allocs_bytes;
          const incErr = (probe: typeof cheap) => (probe.value('go_mem_alloc_bytes_total', w.pid)! - (probe.first('go_mem_alloc_bytes_total', w.pid) ?? 0) - allocs) / allocs;
          const pct = (x: number) => `${(x * 100).toFixed(3)}%`;
          console.log(`go${tc.version} ${flavour}: allocs ${done.allocs_bytes} B absolute (${allocs} B after attach); exact ${pct(absErr(exact))}, cheap ${pct(absErr(cheap))} absolute`);
          expect(Math.abs(absErr(exact))).toBeLessThan(0.01);
          expect(Math.abs(absErr(cheap))).toBeLessThan(0.01);
          // The first reading is the runtime's total at attach, give or take the allocation between
          // "ready" and the first read (none: the workload waits on stdin).
          expect(cheap.first('go_mem_alloc_bytes_total', w.pid)! / ready.allocs_bytes).toBeGreaterThan(0.99);
          expect(Math.abs(incErr(cheap))).toBeLessThan(0.01);
          // Objects too (span accounting counts slots used, as Go adds them to smallAllocCount).
          const objErr = cheap.value('go_gc_heap_allocs_objects_total', w.pid)! / done.allocs_objects - 1;
          console.log(`go${tc.version} ${flavour}: allocs ${done.allocs_objects} objects absolute; cheap ${pct(objErr)}`);
          expect(Math.abs(objErr)).toBeLessThan(0.01);

          // Stop-the-world pauses: two per cycle, each counted once, distribution within a log2 bucket.
          // A pause is counted when the world restarts, after gcMarkTermination counted its cycle:
          // a read between the two is one pause short, so wait for a read after the last restart.
          const countOf = (name: string) => sum(cheap.series(name, w.pid).map((s) => (s.kind === 'histogram' ? s.count : 0)));
          const ourPauses = () => countOf('go_gc_pause_seconds');
          // The workload also stopped the world read_memstats times for ReadMemStats: not GC pauses.
          const gcPauses = done.pause_count - ready.pause_count;
          // The ReadMemStats stops come last: wait for a read after them too.
          await waitFor(() => ourPauses() >= gcPauses && countOf('go_sched_pauses_other_seconds') >= done.read_memstats, 5000, 'the last pauses to be read').catch(() => undefined);
          const pauses = cheap.series('go_gc_pause_seconds', w.pid);
          expect(ourPauses()).toBe(gcPauses);
          expect(countOf('go_sched_pauses_other_seconds')).toBe(done.read_memstats);
          // The sum, not only the count: Go's own clock readings as the boundaries.
          const sumOf = (name: string) => sum(cheap.series(name, w.pid).map((s) => (s.kind === 'histogram' ? s.sum : 0)));
          const goPauseSum = (done.pause_total_ns - ready.pause_total_ns) / 1e9;
          console.log(`go${tc.version} ${flavour}: GC pause sum ${(sumOf('go_gc_pause_seconds') * 1e6).toFixed(1)} µs, Go's own ${(goPauseSum * 1e6).toFixed(1)} µs (${pct(sumOf('go_gc_pause_seconds') / goPauseSum - 1)}) over ${gcPauses} pauses`);
          // Both distributions side by side in our buckets: one long pause measured apart (a stall of
          // an emulated CPU between two clock readings) shows as one count in different buckets.
          const perBucket = pauseBuckets(pauses, ready.pause_counts, done.pause_counts, done.pause_buckets);
          console.log(`go${tc.version} ${flavour}: GC pauses per bucket (ours/Go's): ${perBucket.text}`);
          // Go's own clock readings are the boundaries, so the sum is Go's to the nanosecond (a float
          // sum of ~26 values in seconds: 1 ns is far above its rounding).
          expect(Math.abs(sumOf('go_gc_pause_seconds') - goPauseSum)).toBeLessThan(1e-9);
          // And so is each pause: every one in the bucket Go's own histogram has it in.
          expect(perBucket.ours).toEqual(perBucket.theirs);

          // Blocked time by reason, against how long the workload's goroutines timed their own waits.
          const minor = Number(tc.version.split('.')[1]);
          const secs = (reason: string) => cheap.value('go_sched_goroutines_blocked_seconds_total', w.pid, { reason }) ?? 0;
          const mutexReason = minor >= 20 ? 'sync.Mutex.Lock' : 'semacquire';
          const truth = done.waited_seconds;
          console.log(`go${tc.version} ${flavour}: sleep ${secs('sleep').toFixed(3)}/${truth.sleep.toFixed(3)} s, chan receive ${secs('chan receive').toFixed(3)}/${truth['chan receive'].toFixed(3)} s, ${mutexReason} ${secs(mutexReason).toFixed(3)}/${truth.mutex.toFixed(3)} s (probe/workload)`);
          for (const [reason, known] of [['sleep', truth.sleep], ['chan receive', truth['chan receive']], [mutexReason, truth.mutex]] as const) {
            // Before 1.20 a mutex wait is "semacquire", which WaitGroup.Wait in main adds to.
            const upper = reason === 'semacquire' ? known * 1.1 + 0.7 : known * 1.1;
            expect(secs(reason), reason).toBeGreaterThan(known * 0.9);
            expect(secs(reason), reason).toBeLessThan(upper);
          }

          // Burst: every P busy, 200 goroutines runnable behind them.
          w.next();
          await w.phase('burst');
          const queued = () => sum(cheap.series('go_sched_p_local_queue_length', w.pid).map((s) => (s.kind === 'gauge' ? s.value : 0)));
          await waitFor(() => queued() >= 50, 10_000, `local run queues to fill (saw ${queued()})`);
          expect(cheap.value('go_sched_m_nonidle_count', w.pid)).toBeGreaterThanOrEqual(2);
          w.next();
          const final = await w.phase('final');
          // Stripped too: allglen is found in runtime.allgadd's code and checked against len(allgs).
          await waitFor(() => Math.abs((cheap.value('go_goroutines', w.pid) ?? -99) - final.goroutines) <= 2, 10_000, `go_goroutines ≈ ${final.goroutines} (saw ${cheap.value('go_goroutines', w.pid)})`);
          // The leak: 25 goroutines parked on a channel since phase "work" never wake, so blocked
          // time never counts them; the park map shows them now, with their age.
          const waiting = () => cheap.value('go_sched_goroutines_waiting', w.pid, { reason: 'chan receive' }) ?? 0;
          const oldest = () => cheap.value('go_sched_goroutines_waiting_oldest_seconds', w.pid, { reason: 'chan receive' }) ?? 0;
          await waitFor(() => waiting() >= final.leaked && oldest() >= final.leaked_age_seconds! - 0.01, 5000, `${final.leaked} leaked goroutines waiting ≥ ${final.leaked_age_seconds} s (saw ${waiting()}, ${oldest()} s)`);
          expect(waiting()).toBeLessThanOrEqual(final.leaked + 2);
          console.log(`go${tc.version} ${flavour}: waiting now ${cheap.series('go_sched_goroutines_waiting', w.pid).map((s) => `${s.labels.reason}=${s.kind === 'gauge' ? s.value : ''}`).join(', ')}`);
          // GOMAXPROCS=2 from the environment, exactly; the runtime's Ms against its own count and
          // the kernel's thread list (a pure-Go process has no other threads).
          expect(cheap.value('go_sched_gomaxprocs_threads', w.pid)).toBe(2);
          // GOGC and GOMEMLIMIT from the environment, exactly, and as the runtime reports them (1.21+).
          expect(cheap.value('go_gc_gogc_percent', w.pid)).toBe(GOGC);
          expect(cheap.value('go_gc_gomemlimit_bytes', w.pid)).toBe(GOMEMLIMIT);
          if (final.gogc_percent !== undefined) expect([final.gogc_percent, final.gomemlimit_bytes]).toEqual([GOGC, GOMEMLIMIT]);
          // The pacer's goal and the live heap after the workload's last GC (it idles since).
          const goal = () => cheap.value('go_gc_heap_goal_bytes', w.pid) ?? 0;
          // A read from before the workload's last GC still has the previous cycle's live heap: wait
          // for one after it (the workload idles since, so it stays).
          const live = () => cheap.value('go_gc_heap_live_bytes', w.pid) ?? 0;
          if (final.heap_live_bytes !== undefined) await waitFor(() => live() === final.heap_live_bytes, 5000, `live heap = ${final.heap_live_bytes}, Go's own (saw ${live()})`);
          else expect(live()).toBeGreaterThan(0);
          await waitFor(() => Math.abs(goal() / final.heap_goal_bytes - 1) < 0.1, 5000, `heap goal within 10% of ${final.heap_goal_bytes} (saw ${goal()})`);
          console.log(`go${tc.version} ${flavour}: heap goal ${goal()} B, Go's own ${final.heap_goal_bytes} B (${pct(goal() / final.heap_goal_bytes - 1)}); live ${live()} B, Go's own ${final.heap_live_bytes ?? 'n/a (< 1.21)'}`);
          const osThreads = () => readdirSync(`/proc/${w.pid}/task`).length;
          // Against the runtime's own count asked now, not at "final": it may have started an M
          // since (seen under emulation: 5 Ms read against a stale 4).
          let theirs = final.threads;
          const threadsBy = Date.now() + 5000;
          while ((theirs = await w.threads()) !== cheap.value('go_threads', w.pid) && Date.now() < threadsBy) await new Promise((r) => setTimeout(r, 100));
          expect(cheap.value('go_threads', w.pid), "go_threads against the runtime's own count").toBe(theirs);
          // A cgo binary keeps one M without an OS thread (for C threads calling into Go).
          expect(cheap.value('go_threads', w.pid)).toBe(osThreads() + (flavour === 'cgo' ? 1 : 0));
          // Every metric says it resolved, per process: nothing silently missing.
          const info = cheap.series('go_runtime_probe_info', w.pid);
          expect(Object.fromEntries(info.map((s) => [s.labels.metric, s.labels.status]))).toEqual(Object.fromEntries(['blocked', 'gc_pauses', 'gc_cycles', 'runqueue', 'm_nonidle', 'goroutines', 'alloc', 'threads', 'gomaxprocs', 'gc_controller'].map((m) => [m, 'ok'])));
          // GOMAXPROCS changed at run time: allp grows into a new array, then shrinks in place; the
          // probe finds the Ps again each time (it reads them where the last read found them).
          const runqAt = (p: string) => cheap.series('go_sched_p_local_queue_length', w.pid).find((s) => s.labels.p === p);
          expect(await w.gomaxprocs(4)).toBe(4);
          await cheap.waitValue('go_sched_gomaxprocs_threads', w.pid, 4);
          await waitFor(() => runqAt('3') !== undefined, 5000, 'a run-queue series for P 3');
          const grownAt = runqAt('3')!.timestamp;
          expect(await w.gomaxprocs(1)).toBe(1);
          await cheap.waitValue('go_sched_gomaxprocs_threads', w.pid, 1);
          const shrunkAt = cheap.series('go_sched_gomaxprocs_threads', w.pid)[0]!.timestamp;
          await waitFor(() => runqAt('0')!.timestamp > shrunkAt, 5000, 'P 0 read after the shrink');
          // P 3 is gone: its series is no longer read.
          expect(runqAt('3')!.timestamp).toBeLessThan(shrunkAt);
          expect(runqAt('3')!.timestamp).toBeGreaterThanOrEqual(grownAt);
          expect(cheap.value('go_goroutines', w.pid)).toBeGreaterThanOrEqual(1);
          // Scheduling latency (runnable → running) through every phase, burst included: the
          // median within one log2 bucket of Go's own.
          const lat = latency.series('go_sched_latencies_seconds', w.pid);
          const latCount = sum(lat.map((h) => (h.kind === 'histogram' ? h.count : 0)));
          const goLat = goMedianUpper(ready.latency_counts, final.latency_counts, final.latency_buckets);
          console.log(`go${tc.version} ${flavour}: scheduling latency median ≤ ${(medianUpper(lat) * 1e6).toFixed(1)} µs over ${latCount} samples; Go's own ≤ ${(goLat * 1e6).toFixed(1)} µs over ${sum(final.latency_counts) - sum(ready.latency_counts)}`);
          expect(latCount).toBeGreaterThan(100);
          // Buckets as ours are, (2^(k−1), 2^k] ns: Go's median must fall in ours or a neighbour.
          const log2Bucket = (seconds: number) => Math.ceil(Math.log2(seconds * 1e9));
          expect(Math.abs(log2Bucket(medianUpper(lat)) - log2Bucket(goLat))).toBeLessThanOrEqual(1);
          expect(cheap.error).toBeUndefined();
          expect(exact.error).toBeUndefined();
          expect(latency.error).toBeUndefined();
        } finally {
          cheap.stop();
          exact.stop();
          latency.stop();
          await w.finish();
        }
      }, 120_000);
    }
  }
});

/** Our histograms (one per series, the same bounds) added bucket by bucket, the overflow bucket last. */
function summed(hists: Sample[]): { bounds: readonly number[]; counts: number[] } {
  const hs = hists as HistogramSample[];
  return { bounds: hs[0]!.bounds, counts: hs[0]!.counts.map((_, i) => sum(hs.map((h) => h.counts[i]!))) };
}

/** Upper bound of the bucket holding the median pause, from our histograms. */
function medianUpper(hists: Sample[]): number {
  const { bounds, counts } = summed(hists);
  const total = sum(counts);
  let acc = 0;
  for (let i = 0; i < bounds.length; i++) {
    acc += counts[i]!;
    if (acc * 2 >= total) return bounds[i]!;
  }
  return bounds[bounds.length - 1]!;
}

/**
 * Ours and Go's delta histogram in our buckets, Go's counted into ours by upper bound (each of
 * Go's buckets lies inside one of ours: its bounds are powers of two split in sixteenths), and
 * the non-empty ones as text: "≤ 64 µs: 3/3, …".
 */
function pauseBuckets(hists: Sample[], before: number[], after: number[], buckets: number[]): { ours: number[]; theirs: number[]; text: string } {
  const { bounds, counts: ours } = summed(hists);
  const theirs = ours.map(() => 0);
  after.forEach((c, i) => {
    const upper = buckets[i + 1]!;
    const at = bounds.findIndex((b) => upper <= b * (1 + 1e-9));
    theirs[at < 0 ? bounds.length : at]! += c - (before[i] ?? 0);
  });
  const text = ours.flatMap((n, i) => (n || theirs[i] ? [`${i < bounds.length ? `≤ ${(bounds[i]! * 1e6).toPrecision(3)} µs` : '+Inf'}: ${n}/${theirs[i]}`] : [])).join(', ');
  return { ours, theirs, text };
}

/** Upper bound of the bucket holding the median, from the delta of two of Go's own histograms. */
function goMedianUpper(before: number[], after: number[], buckets: number[]): number {
  const counts = after.map((c, i) => c - (before[i] ?? 0));
  const total = sum(counts);
  let acc = 0;
  for (let i = 0; i < counts.length; i++) {
    acc += counts[i]!;
    if (acc * 2 >= total) return buckets[i + 1]!;
  }
  return buckets[buckets.length - 1]!;
}

/**
 * Names of the Go runtime metrics, by profile (the probe's `names` option; the table in
 * docs/go-runtime.md lists all of them).
 *
 *   seed           probeflow's own names (the default)
 *   client_golang  the names prometheus/client_golang exports in-process: its default Go
 *                  collector's (go_memstats_alloc_bytes_total, go_memstats_next_gc_bytes,
 *                  go_gc_duration_seconds_sum/_count, …) and, for what that lacks, its
 *                  runtime/metrics names (go_sched_pauses_total_gc_seconds, …), so dashboards
 *                  built on an instrumented service work on one that never exposed metrics
 *
 * A seed name not listed for a profile keeps its name there (go_goroutines, go_threads,
 * go_info, go_gc_gogc_percent… are client_golang's names already; blocked time, waiting
 * goroutines and run queues have no in-process equivalent).
 */
export type NamingProfile = 'seed' | 'client_golang';

const CLIENT_GOLANG: Readonly<Record<string, string>> = {
  go_mem_alloc_bytes_total: 'go_memstats_alloc_bytes_total',
  go_gc_heap_goal_bytes: 'go_memstats_next_gc_bytes',
  go_gc_cycles_total: 'go_gc_cycles_total_gc_cycles_total',
  /** One histogram per process, its phases summed, as /sched/pauses/total/gc:seconds is. */
  go_gc_pause_seconds: 'go_sched_pauses_total_gc_seconds',
  go_sched_pauses_other_seconds: 'go_sched_pauses_total_other_seconds',
};

export function metricName(profile: NamingProfile, seedName: string): string {
  return profile === 'client_golang' ? (CLIENT_GOLANG[seedName] ?? seedName) : seedName;
}

/** The seed → profile renames, for docs and tests. */
export const RENAMED: Readonly<Record<Exclude<NamingProfile, 'seed'>, Readonly<Record<string, string>>>> = { client_golang: CLIENT_GOLANG };

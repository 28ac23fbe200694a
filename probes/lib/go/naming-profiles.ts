import type { Sample } from '../../../engine/model/sample.js';

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
 *   otel           OpenTelemetry's semantic conventions for Go (go.memory.allocated, …) as
 *                  Prometheus stores them when they arrive over OTLP: dots to underscores, the
 *                  unit as a suffix, _total on counters (go_memory_allocated_bytes_total)
 *
 * A seed name not listed for a profile keeps its name there (go_goroutines, go_threads,
 * go_info, go_gc_gogc_percent… are client_golang's names already; blocked time, waiting
 * goroutines and run queues have no equivalent in either).
 */
export type NamingProfile = 'seed' | 'client_golang' | 'otel';

const CLIENT_GOLANG: Readonly<Record<string, string>> = {
  go_mem_alloc_bytes_total: 'go_memstats_alloc_bytes_total',
  go_gc_heap_goal_bytes: 'go_memstats_next_gc_bytes',
  go_gc_cycles_total: 'go_gc_cycles_total_gc_cycles_total',
  /** One histogram per process, its phases summed (by the reader), as /sched/pauses/total/gc:seconds is. */
  go_gc_pause_seconds: 'go_sched_pauses_total_gc_seconds',
  go_sched_pauses_other_seconds: 'go_sched_pauses_total_other_seconds',
  /**
   * Neither client_golang nor runtime/metrics counts non-idle Ms; named the way
   * runtime/metrics names its thread gauges (/sched/gomaxprocs:threads), which also keeps
   * promtool's lint clean where the seed's _count suffix is not.
   */
  go_sched_m_nonidle_count: 'go_sched_nonidle_threads',
};

/** Seed name → [semantic-conventions name, its unit (UCUM, as the conventions give it), its Prometheus form]. */
const OTEL_SEMCONV: Readonly<Record<string, readonly [string, string, string]>> = {
  go_goroutines: ['go.goroutine.count', '{goroutine}', 'go_goroutine_count'],
  go_sched_gomaxprocs_threads: ['go.processor.limit', '{thread}', 'go_processor_limit'],
  go_mem_alloc_bytes_total: ['go.memory.allocated', 'By', 'go_memory_allocated_bytes_total'],
  go_gc_heap_allocs_objects_total: ['go.memory.allocations', '{allocation}', 'go_memory_allocations_total'],
  go_gc_heap_goal_bytes: ['go.memory.gc.goal', 'By', 'go_memory_gc_goal_bytes'],
  go_gc_gomemlimit_bytes: ['go.memory.limit', 'By', 'go_memory_limit_bytes'],
  go_gc_gogc_percent: ['go.config.gogc', '%', 'go_config_gogc_percent'],
  go_sched_latencies_seconds: ['go.schedule.duration', 's', 'go_schedule_duration_seconds'],
};
const OTEL: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(OTEL_SEMCONV).map(([seed, [, , prom]]) => [seed, prom]));

/** The seed → profile renames, for docs and tests. */
export const RENAMED: Readonly<Record<Exclude<NamingProfile, 'seed'>, Readonly<Record<string, string>>>> = { client_golang: CLIENT_GOLANG, otel: OTEL };
export const OTEL_SEMCONV_NAMES: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(OTEL_SEMCONV).map(([seed, [semconv]]) => [seed, semconv]));

/**
 * The otel profile's names → the semantic-conventions name and unit the OTLP sink sends them
 * under: over OTLP a metric is go.memory.allocated in By, which a receiver that translates for
 * Prometheus turns back into go_memory_allocated_bytes_total.
 */
export const OTLP_SEMCONV_OF: Readonly<Record<string, { name: string; unit: string }>> = Object.fromEntries(Object.values(OTEL_SEMCONV).map(([name, unit, prom]) => [prom, { name, unit }]));

/** A batch under a profile's names; the seed profile's batch is returned as it is. */
export function renamed(profile: NamingProfile, batch: Sample[]): Sample[] {
  if (profile === 'seed') return batch;
  const names = RENAMED[profile];
  return batch.map((s) => {
    const name = names[s.name];
    return name === undefined ? s : { ...s, name };
  });
}

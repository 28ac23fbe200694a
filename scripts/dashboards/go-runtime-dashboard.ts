import type { DashboardSpec } from './grafana.js';

/** The dashboard's filter on every series: the variables, and only per-process (pid) series. */
const S = 'job=~"$job", namespace=~"$namespace", pod=~"$pod", pid=~"$pid"';
const RATE = '$__rate_interval';
const PROCESS = '{{pod}} {{comm}}[{{pid}}]';
const byProcess = 'namespace, pod, comm, pid';

/**
 * "Go runtime from outside": the go_runtime probe's series under its default (`names: seed`)
 * names. Every query is filtered by the variables and by `pid`, so a service's in-process
 * client_golang series (go_goroutines, go_info without a pid) never mix in.
 */
export const goRuntimeDashboard: DashboardSpec = {
  uid: 'probeflow-go-runtime',
  title: 'Go runtime from outside (probeflow)',
  description: 'The Go runtime of unmodified processes, measured by probeflow with eBPF uprobes: blocking, scheduler, GC pauses, allocation. docs/dashboards.md describes each panel.',
  tags: ['probeflow', 'go', 'ebpf'],
  variables: [
    { name: 'job', label: 'Job', query: 'label_values(go_runtime_probe_info, job)' },
    { name: 'namespace', label: 'Namespace', query: 'label_values(go_runtime_probe_info{job=~"$job"}, namespace)', allValue: '.*' },
    { name: 'pod', label: 'Pod', query: 'label_values(go_runtime_probe_info{job=~"$job", namespace=~"$namespace"}, pod)', allValue: '.*' },
    { name: 'pid', label: 'PID', query: 'label_values(go_runtime_probe_info{job=~"$job", namespace=~"$namespace", pod=~"$pod"}, pid)', allValue: '.+' },
  ],
  rows: [
    {
      title: 'Overview',
      panels: [
        { kind: 'stat', title: 'Go processes observed', w: 6, h: 4, description: 'Processes the go_runtime probe is attached to (one go_info series each).', queries: [{ expr: `count(go_info{${S}})` }] },
        { kind: 'stat', title: 'Goroutines', w: 6, h: 4, description: 'Live goroutines of the selected processes together, as runtime.NumGoroutine() counts them.', queries: [{ expr: `sum(go_goroutines{${S}})` }] },
        { kind: 'stat', title: 'Heap allocation rate', w: 6, h: 4, unit: 'Bps', description: 'Heap bytes allocated per second by the selected processes together.', queries: [{ expr: `sum(rate(go_mem_alloc_bytes_total{${S}}[${RATE}]))` }] },
        { kind: 'stat', title: 'GC stop-the-world p99', w: 6, h: 4, unit: 's', description: "The 99th percentile of GC stop-the-world pauses (both phases) over the rate window, all selected processes' pauses together.", queries: [{ expr: `histogram_quantile(0.99, sum by (le) (rate(go_gc_pause_seconds_bucket{${S}}[${RATE}])))` }] },
        { kind: 'table', title: 'Processes and Go versions', w: 12, h: 7, description: 'One row per observed process: its Go version, command, executable and, in a cluster, namespace and pod.', queries: [{ expr: `go_info{${S}}`, instant: true }] },
        {
          kind: 'table',
          title: 'Probe coverage',
          w: 12,
          h: 7,
          description: 'Per metric, how many processes it is measured on (status="ok"), seeded only from attach ("since_attach"), or not at all (with the reason). A metric missing from the other panels for a process is explained here.',
          queries: [{ expr: `count by (metric, status, reason) (go_runtime_probe_info{${S}})`, instant: true }],
        },
      ],
    },
    {
      title: 'Blocking',
      panels: [
        {
          kind: 'timeseries',
          title: 'Goroutine blocked time by reason',
          w: 12,
          h: 8,
          unit: 's',
          stack: true,
          description: 'Seconds goroutines spent parked per second, by wait reason as Go names it (chan receive, select, sync.Mutex.Lock, sleep, IO wait, …): 3 means three goroutines were parked on that reason on average. Counted when the goroutine wakes up, so a goroutine that never wakes (a leak) shows in "Goroutines waiting", not here.',
          queries: [{ expr: `sum by (reason) (rate(go_sched_goroutines_blocked_seconds_total{${S}}[${RATE}]))`, legend: '{{reason}}' }],
        },
        {
          kind: 'timeseries',
          title: 'Wakeups by reason',
          w: 12,
          h: 8,
          unit: 'ops',
          description: 'Completed parks per second by wait reason. Blocked time divided by wakeups is the mean time per park.',
          queries: [{ expr: `sum by (reason) (rate(go_sched_goroutines_blocked_total{${S}}[${RATE}]))`, legend: '{{reason}}' }],
        },
        {
          kind: 'timeseries',
          title: 'Goroutines waiting by reason',
          w: 12,
          h: 8,
          stack: true,
          description: 'Goroutines parked right now, by wait reason. A line that only grows is a goroutine leak.',
          queries: [{ expr: `sum by (reason) (go_sched_goroutines_waiting{${S}})`, legend: '{{reason}}' }],
        },
        {
          kind: 'timeseries',
          title: 'Longest wait in progress by reason',
          w: 12,
          h: 8,
          unit: 's',
          description: 'How long the longest-parked goroutine of each reason has been waiting, over the selected processes. Long-lived waits on chan receive or select are often servers idling; on a mutex they are contention.',
          queries: [{ expr: `max by (reason) (go_sched_goroutines_waiting_oldest_seconds{${S}})`, legend: '{{reason}}' }],
        },
      ],
    },
    {
      title: 'Scheduler',
      panels: [
        {
          kind: 'timeseries',
          title: 'Local run queue length per P',
          w: 12,
          h: 8,
          description: "Goroutines waiting in each P's local run queue (runnext included), read each probe interval. Queues that stay above 0 mean runnable work waits for a P: CPU-bound or GOMAXPROCS too low.",
          queries: [{ expr: `go_sched_p_local_queue_length{${S}}`, legend: `${PROCESS} P{{p}}` }],
        },
        {
          kind: 'timeseries',
          title: 'Non-idle Ms',
          w: 12,
          h: 8,
          description: 'OS threads (Ms) not idle: running Go code, in a syscall or in cgo, as runtime.checkdead counts them. Many more than GOMAXPROCS means threads blocked in syscalls or cgo.',
          queries: [{ expr: `go_sched_m_nonidle_count{${S}}`, legend: PROCESS }],
        },
        {
          kind: 'timeseries',
          title: 'OS threads and GOMAXPROCS',
          w: 12,
          h: 8,
          description: 'All Ms the runtime has (runtime.mcount()), and GOMAXPROCS (the number of Ps), per process.',
          queries: [
            { expr: `go_threads{${S}}`, legend: `${PROCESS} threads` },
            { expr: `go_sched_gomaxprocs_threads{${S}}`, legend: `${PROCESS} GOMAXPROCS` },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Goroutines',
          w: 12,
          h: 8,
          description: 'Live goroutines per process.',
          queries: [{ expr: `go_goroutines{${S}}`, legend: PROCESS }],
        },
        {
          kind: 'timeseries',
          title: 'Scheduling latency (opt-in: sched_latency)',
          w: 12,
          h: 8,
          unit: 's',
          description: 'Time goroutines spent runnable before they ran (median and 99th percentile), as Go\'s /sched/latencies:seconds. Only with `metrics: [..., sched_latency]` on the go_runtime probe: it probes every goroutine switch, so it is off by default and this panel is empty then.',
          queries: [
            { expr: `histogram_quantile(0.5, sum by (le, ${byProcess}) (rate(go_sched_latencies_seconds_bucket{${S}}[${RATE}])))`, legend: `${PROCESS} p50` },
            { expr: `histogram_quantile(0.99, sum by (le, ${byProcess}) (rate(go_sched_latencies_seconds_bucket{${S}}[${RATE}])))`, legend: `${PROCESS} p99` },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Goroutines created and exited (opt-in: goroutine_churn)',
          w: 12,
          h: 8,
          unit: 'ops',
          description: 'Goroutines started and finished per second. Only with `metrics: [..., goroutine_churn]`: it probes every goroutine start and exit, so it is off by default and this panel is empty then.',
          queries: [
            { expr: `sum by (${byProcess}) (rate(go_goroutines_created_total{${S}}[${RATE}]))`, legend: `${PROCESS} created` },
            { expr: `sum by (${byProcess}) (rate(go_goroutines_exited_total{${S}}[${RATE}]))`, legend: `${PROCESS} exited` },
          ],
        },
      ],
    },
    {
      title: 'GC and memory',
      panels: [
        {
          kind: 'heatmap',
          title: 'GC stop-the-world pauses',
          w: 12,
          h: 8,
          unit: 's',
          description: 'How many GC stop-the-world pauses (sweep termination and mark termination) fell in each duration bucket per rate window. The brighter the cell, the more pauses of that length.',
          queries: [{ expr: `sum by (le) (increase(go_gc_pause_seconds_bucket{${S}}[${RATE}]))`, legend: '{{le}}' }],
        },
        {
          kind: 'timeseries',
          title: 'GC stop-the-world pause p99 by phase',
          w: 12,
          h: 8,
          unit: 's',
          description: '99th percentile of GC pauses per phase: sweep_termination (the start of a cycle) and mark_termination (its end). Other stop-the-worlds (ReadMemStats, profiles, GOMAXPROCS) are the third line.',
          queries: [
            { expr: `histogram_quantile(0.99, sum by (le, phase) (rate(go_gc_pause_seconds_bucket{${S}}[${RATE}])))`, legend: 'GC {{phase}}' },
            { expr: `histogram_quantile(0.99, sum by (le) (rate(go_sched_pauses_other_seconds_bucket{${S}}[${RATE}])))`, legend: 'other stop-the-world' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Heap allocation rate',
          w: 12,
          h: 8,
          unit: 'Bps',
          description: 'Heap bytes allocated per second per process (size-class rounded, as the runtime counts them).',
          queries: [{ expr: `sum by (${byProcess}) (rate(go_mem_alloc_bytes_total{${S}}[${RATE}]))`, legend: PROCESS }],
        },
        {
          kind: 'timeseries',
          title: 'Heap objects allocated',
          w: 12,
          h: 8,
          unit: 'ops',
          description: 'Heap objects allocated per second per process (alloc_mode: cheap only).',
          queries: [{ expr: `sum by (${byProcess}) (rate(go_gc_heap_allocs_objects_total{${S}}[${RATE}]))`, legend: PROCESS }],
        },
        {
          kind: 'timeseries',
          title: 'GC cycles',
          w: 12,
          h: 8,
          unit: 'ops',
          description: 'Completed GC cycles per second per process. Many cycles with a small heap goal: GOGC or GOMEMLIMIT are tight for the allocation rate.',
          queries: [{ expr: `sum by (${byProcess}) (rate(go_gc_cycles_total{${S}}[${RATE}]))`, legend: PROCESS }],
        },
        {
          kind: 'timeseries',
          title: 'Heap goal and live heap',
          w: 12,
          h: 8,
          unit: 'bytes',
          description: 'The heap size the current GC cycle aims to end at, and the heap the last cycle marked live.',
          queries: [
            { expr: `go_gc_heap_goal_bytes{${S}}`, legend: `${PROCESS} goal` },
            { expr: `go_gc_heap_live_bytes{${S}}`, legend: `${PROCESS} live` },
          ],
        },
        {
          kind: 'table',
          title: 'GC settings',
          w: 24,
          h: 6,
          description: 'GOGC (−1: off) and GOMEMLIMIT (9.2 EB when unset) per process, as the runtime holds them now (debug.SetGCPercent and SetMemoryLimit included).',
          queries: [
            { expr: `go_gc_gogc_percent{${S}}`, instant: true },
            { expr: `go_gc_gomemlimit_bytes{${S}}`, instant: true },
          ],
        },
      ],
    },
  ],
};

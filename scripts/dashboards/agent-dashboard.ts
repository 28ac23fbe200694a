import type { DashboardSpec } from './grafana.js';

const J = 'job=~"$job", instance=~"$instance"';
const RATE = '$__rate_interval';
/** Only the agents' own process_* series, not every exporter's with the same names. */
const AGENTS = `and on (job, instance) probeflow_build_info{${J}}`;

/** "probeflow agent": the engine's self-metrics, one line per node (instance). */
export const agentDashboard: DashboardSpec = {
  uid: 'probeflow-agent',
  title: 'probeflow agent',
  description: "probeflow's own health on every node: components up, samples through pipelines, sink delivery and queues, reloads, the agent's CPU and memory. docs/dashboards.md describes each panel.",
  tags: ['probeflow'],
  variables: [
    { name: 'job', label: 'Job', query: 'label_values(probeflow_build_info, job)' },
    { name: 'instance', label: 'Agent', query: 'label_values(probeflow_build_info{job=~"$job"}, instance)' },
  ],
  rows: [
    {
      title: 'Fleet',
      panels: [
        { kind: 'stat', title: 'Agents', w: 4, h: 4, description: 'Agents reporting (one per node).', queries: [{ expr: `count(probeflow_build_info{${J}})` }] },
        { kind: 'stat', title: 'Probes up', w: 4, h: 4, description: 'Probes running, over all agents.', queries: [{ expr: `sum(probeflow_component_up{${J}, kind="probe"})` }] },
        { kind: 'stat', title: 'Probes down', w: 4, h: 4, description: 'Probes that failed (a missing binary, a kernel without the feature): the rest of their agent keeps running; the log and `probeflow status` say why.', queries: [{ expr: `count(probeflow_component_up{${J}, kind="probe"} == 0) or vector(0)` }] },
        { kind: 'stat', title: 'Sinks down', w: 4, h: 4, description: 'Sinks that could not start (a port taken, a bad certificate).', queries: [{ expr: `count(probeflow_component_up{${J}, kind="sink"} == 0) or vector(0)` }] },
        { kind: 'stat', title: 'Configs in use', w: 4, h: 4, description: 'Distinct pipeline.yaml versions running across agents (by hash). More than 1 for long: some nodes did not take the last ConfigMap.', queries: [{ expr: `count(count by (hash) (probeflow_config_info{${J}}))` }] },
        { kind: 'stat', title: 'Last reload refused', w: 4, h: 4, description: 'Agents whose last reload was refused (the old config keeps running). The agent log names file, line and field.', queries: [{ expr: `count(probeflow_config_last_reload_successful{${J}} == 0) or vector(0)` }] },
        { kind: 'table', title: 'Agents and versions', w: 24, h: 6, description: 'Each agent with its probeflow and Node.js versions and the hash of its pipeline.yaml.', queries: [{ expr: `probeflow_build_info{${J}}`, instant: true }, { expr: `probeflow_config_info{${J}}`, instant: true }] },
      ],
    },
    {
      title: 'Pipelines',
      panels: [
        {
          kind: 'timeseries',
          title: 'Samples into and out of pipelines',
          w: 12,
          h: 8,
          unit: 'ops',
          description: 'Samples per second entering each pipeline (from its probes) and leaving it (after its stages, towards its sinks).',
          queries: [
            { expr: `sum by (pipeline) (rate(probeflow_pipeline_samples_in_total{${J}}[${RATE}]))`, legend: '{{pipeline}} in' },
            { expr: `sum by (pipeline) (rate(probeflow_pipeline_samples_out_total{${J}}[${RATE}]))`, legend: '{{pipeline}} out' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Samples dropped',
          w: 12,
          h: 8,
          unit: 'ops',
          description: "Samples lost per second and why: a pipeline over max_series, a stage refusing a sample (NaN, out of order), a probe's ring buffer full (per-hit events), a sink's queue full. 0 on a healthy agent.",
          queries: [
            { expr: `sum by (pipeline) (rate(probeflow_series_overflow_samples_total{${J}}[${RATE}])) or sum by (pipeline) (rate(probeflow_pipeline_samples_in_total{${J}}[${RATE}])) * 0`, legend: '{{pipeline}} over max_series' },
            // Born with the first drop (stage and reason are not known before): 0 until then.
            { expr: `sum by (stage, reason) (rate(probeflow_stage_dropped_samples_total{${J}}[${RATE}])) or vector(0)`, legend: '{{stage}} {{reason}}' },
            // Cumulative, read from the kernel: rate() also handles the reset when a probe restarts.
            { expr: `sum by (probe) (rate(probeflow_probe_events_dropped{${J}}[${RATE}])) or vector(0)`, legend: '{{probe}} ring buffer full' },
            { expr: `sum by (sink, reason) (rate(probeflow_sink_samples_dropped_total{${J}}[${RATE}]))`, legend: '{{sink}} {{reason}}' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Component errors',
          w: 24,
          h: 7,
          unit: 'ops',
          description: 'Errors per second by component (probe, stage, pipeline, sink). A probe or sink that errors is stopped and marked down; the rest keeps running.',
          queries: [{ expr: `sum by (kind, id) (rate(probeflow_component_errors_total{${J}}[${RATE}]))`, legend: '{{kind}} {{id}}' }],
        },
      ],
    },
    {
      title: 'Sinks',
      panels: [
        {
          kind: 'timeseries',
          title: 'Delivered, refused and retried',
          w: 12,
          h: 8,
          unit: 'ops',
          description: 'Per push sink (remote_write, otlp, aom): samples the receiver took, samples it refused for good (4xx: lost), and send attempts retried (5xx, 429, network).',
          queries: [
            { expr: `sum by (sink) (rate(probeflow_sink_samples_sent_total{${J}}[${RATE}]))`, legend: '{{sink}} sent' },
            { expr: `sum by (sink) (rate(probeflow_sink_samples_failed_total{${J}}[${RATE}]))`, legend: '{{sink}} refused' },
            { expr: `sum by (sink) (rate(probeflow_sink_retries_total{${J}}[${RATE}]))`, legend: '{{sink}} retries' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Sink queues',
          w: 12,
          h: 8,
          description: "Samples waiting in each push sink's queue, the batch in flight included. A queue that keeps growing: the receiver is down or slower than the agent; at the queue's capacity new samples are dropped (and counted).",
          queries: [{ expr: `max by (sink) (probeflow_sink_queue_samples{${J}})`, legend: '{{sink}} (max over agents)' }],
        },
        {
          kind: 'timeseries',
          title: 'Time since last delivery',
          w: 24,
          h: 7,
          unit: 's',
          description: 'Seconds since each push sink last delivered a batch, worst agent. Rising steadily: nothing gets through.',
          queries: [{ expr: `max by (sink) (time() - probeflow_sink_last_success_timestamp_seconds{${J}})`, legend: '{{sink}}' }],
        },
      ],
    },
    {
      title: 'Reloads and footprint',
      panels: [
        {
          kind: 'timeseries',
          title: 'Reloads',
          w: 8,
          h: 8,
          unit: 'short',
          description: 'Reload attempts per rate window by result (SIGHUP, ConfigMap edit, POST /-/reload). A failure keeps the running config.',
          queries: [{ expr: `sum by (result) (increase(probeflow_config_reloads_total{${J}}[${RATE}]))`, legend: '{{result}}' }],
        },
        {
          kind: 'timeseries',
          title: 'Agent CPU',
          w: 8,
          h: 8,
          unit: 'percentunit',
          description: 'CPU of each agent as a share of one core (user + system).',
          queries: [{ expr: `rate(process_cpu_seconds_total{${J}}[${RATE}]) ${AGENTS}`, legend: '{{instance}}' }],
        },
        {
          kind: 'timeseries',
          title: 'Agent memory',
          w: 8,
          h: 8,
          unit: 'bytes',
          description: "Resident memory and V8's used heap of each agent.",
          queries: [
            { expr: `process_resident_memory_bytes{${J}} ${AGENTS}`, legend: '{{instance}} RSS' },
            { expr: `nodejs_heap_size_used_bytes{${J}} ${AGENTS}`, legend: '{{instance}} V8 heap' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Probe read time',
          w: 12,
          h: 6,
          unit: 's',
          description: "What one read of each probe costs on the agent's event loop: its BPF maps (and go_runtime's /proc/PID/mem gauges) turned into samples, once per interval. Grows with the processes a probe tracks.",
          queries: [{ expr: `sum by (instance, probe) (rate(probeflow_probe_read_seconds_total{${J}}[${RATE}])) / sum by (instance, probe) (rate(probeflow_probe_reads_total{${J}}[${RATE}]))`, legend: '{{instance}} {{probe}}' }],
        },
        {
          kind: 'timeseries',
          title: 'Agent open file descriptors',
          w: 12,
          h: 6,
          description: 'Open fds of each agent, BPF links, maps and programs included. Flat as processes come and go; a count that only grows means kernel objects are not released.',
          queries: [{ expr: `process_open_fds{${J}} ${AGENTS}`, legend: '{{instance}}' }],
        },
      ],
    },
  ],
};

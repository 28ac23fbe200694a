import { Counter, Gauge, Registry } from 'prom-client';
import { PACKAGE_VERSION } from '../util/package-root.js';
import { registerAgentProcessMetrics } from './agent-process-metrics.js';

/**
 * Metrics about the engine itself, on their own prom-client registry so they never mix
 * with the samples pipelines export. Sinks and probes add theirs through `registry`.
 */
export class SelfMetrics {
  readonly registry = new Registry();
  readonly batchesIn = new Counter({
    name: 'probeflow_pipeline_batches_total',
    help: 'Sample batches that entered a pipeline',
    labelNames: ['pipeline'],
    registers: [this.registry],
  });
  readonly samplesIn = new Counter({
    name: 'probeflow_pipeline_samples_in_total',
    help: 'Samples that entered a pipeline (before stages)',
    labelNames: ['pipeline'],
    registers: [this.registry],
  });
  readonly samplesOut = new Counter({
    name: 'probeflow_pipeline_samples_out_total',
    help: 'Samples that left a pipeline towards its sinks (after stages)',
    labelNames: ['pipeline'],
    registers: [this.registry],
  });
  readonly componentErrors = new Counter({
    name: 'probeflow_component_errors_total',
    help: 'Errors raised by a component; the component is stopped or the batch skipped, the rest keeps running',
    labelNames: ['kind', 'id'],
    registers: [this.registry],
  });
  readonly componentUp = new Gauge({
    name: 'probeflow_component_up',
    help: '1 while a probe or sink is running, 0 after it failed',
    labelNames: ['kind', 'id', 'type'],
    registers: [this.registry],
  });
  readonly seriesOverflow = new Counter({
    name: 'probeflow_series_overflow_samples_total',
    help: 'Samples dropped because their pipeline reached max_series, by pipeline and the metric that overflowed',
    labelNames: ['pipeline', 'metric'],
    registers: [this.registry],
  });
  readonly stageDropped = new Counter({
    name: 'probeflow_stage_dropped_samples_total',
    help: 'Samples a stage refused (NaN, out-of-order timestamps), by reason',
    labelNames: ['stage', 'reason'],
    registers: [this.registry],
  });

  readonly sinkSent = new Counter({
    name: 'probeflow_sink_samples_sent_total',
    help: 'Samples a sink delivered (accepted by the receiver)',
    labelNames: ['sink'],
    registers: [this.registry],
  });
  readonly sinkFailed = new Counter({
    name: 'probeflow_sink_samples_failed_total',
    help: 'Samples the receiver refused for good (4xx other than 429): not retried, lost',
    labelNames: ['sink'],
    registers: [this.registry],
  });
  readonly sinkDropped = new Counter({
    name: 'probeflow_sink_samples_dropped_total',
    help: 'Samples a sink dropped before sending, by reason (queue_full, invalid)',
    labelNames: ['sink', 'reason'],
    registers: [this.registry],
  });
  readonly sinkRetries = new Counter({
    name: 'probeflow_sink_retries_total',
    help: 'Send attempts that failed and were retried (5xx, network errors, 429 when enabled)',
    labelNames: ['sink'],
    registers: [this.registry],
  });
  readonly sinkQueueLength = new Gauge({
    name: 'probeflow_sink_queue_samples',
    help: 'Samples waiting in a sink queue, the batch being sent included',
    labelNames: ['sink'],
    registers: [this.registry],
  });
  readonly sinkLastSuccess = new Gauge({
    name: 'probeflow_sink_last_success_timestamp_seconds',
    help: 'When a sink last delivered a batch',
    labelNames: ['sink'],
    registers: [this.registry],
  });

  readonly probeReads = new Counter({
    name: 'probeflow_probe_reads_total',
    help: 'Reads of a BPF probe: its maps (and, for go_runtime, its processes\' /proc/PID/mem gauges) turned into samples',
    labelNames: ['probe'],
    registers: [this.registry],
  });
  readonly probeReadSeconds = new Counter({
    name: 'probeflow_probe_read_seconds_total',
    help: 'Time spent in those reads, on the event loop; divided by probeflow_probe_reads_total, what one read costs',
    labelNames: ['probe'],
    registers: [this.registry],
  });
  readonly probeEventsDropped = new Gauge({
    name: 'probeflow_probe_events_dropped',
    help: 'Per-hit events a probe lost because its ring buffer was full (cumulative, read from the kernel)',
    labelNames: ['probe'],
    registers: [this.registry],
  });
  readonly reloadSuccessful = new Gauge({
    name: 'probeflow_config_last_reload_successful',
    help: '1 if the last reload of pipeline.yaml was applied, 0 if it was refused',
    registers: [this.registry],
  });
  readonly reloadSuccessTime = new Gauge({
    name: 'probeflow_config_last_reload_success_timestamp_seconds',
    help: 'When pipeline.yaml was last loaded successfully',
    registers: [this.registry],
  });
  readonly reloads = new Counter({
    name: 'probeflow_config_reloads_total',
    help: 'Reload attempts by result (success, failure)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly configInfo = new Gauge({
    name: 'probeflow_config_info',
    help: 'Hash of the running pipeline.yaml (value 1)',
    labelNames: ['hash'],
    registers: [this.registry],
  });

  constructor() {
    new Gauge({
      name: 'probeflow_build_info',
      help: 'probeflow version and the Node.js it runs on',
      labelNames: ['version', 'node'],
      registers: [this.registry],
    })
      .labels(PACKAGE_VERSION, process.version)
      .set(1);
    registerAgentProcessMetrics(this.registry);
  }
}

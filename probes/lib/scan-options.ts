import { parseDuration } from '../../engine/util/duration.js';
import { DEFAULT_PROCESS_LABELS, type PodKeys, type ProcessLabel } from './process-labels.js';
import type { TargetConfig } from './target.js';

/** The options every kernel probe shares, with their defaults applied once. */
export interface ScanOptions {
  intervalMs: number;
  rescanMs: number;
  labels: ProcessLabel[];
  /** Pod labels and annotations as series labels; absent when none are asked for. */
  podKeys?: PodKeys;
  target?: TargetConfig;
}

export function scanOptions(config: { interval?: string; rescan?: string; labels?: string[]; k8s_labels?: string[]; k8s_annotations?: string[]; target?: TargetConfig }): ScanOptions {
  const podKeys = { labels: config.k8s_labels ?? [], annotations: config.k8s_annotations ?? [] };
  return {
    intervalMs: parseDuration(config.interval ?? '5s'),
    rescanMs: parseDuration(config.rescan ?? '2s'),
    labels: (config.labels as ProcessLabel[] | undefined) ?? DEFAULT_PROCESS_LABELS,
    ...(podKeys.labels.length || podKeys.annotations.length ? { podKeys } : {}),
    ...(config.target ? { target: config.target } : {}),
  };
}

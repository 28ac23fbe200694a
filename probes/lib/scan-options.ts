import { parseDuration } from '../../engine/util/duration.js';
import { DEFAULT_PROCESS_LABELS, type ProcessLabel } from './process-labels.js';
import type { TargetConfig } from './target.js';

/** The options every kernel probe shares, with their defaults applied once. */
export interface ScanOptions {
  intervalMs: number;
  rescanMs: number;
  labels: ProcessLabel[];
  target?: TargetConfig;
}

export function scanOptions(config: { interval?: string; rescan?: string; labels?: string[]; target?: TargetConfig }): ScanOptions {
  return {
    intervalMs: parseDuration(config.interval ?? '5s'),
    rescanMs: parseDuration(config.rescan ?? '2s'),
    labels: (config.labels as ProcessLabel[] | undefined) ?? DEFAULT_PROCESS_LABELS,
    ...(config.target ? { target: config.target } : {}),
  };
}

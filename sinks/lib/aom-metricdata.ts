import type { Labels, Sample } from '../../engine/model/sample.js';

/** One item of AddMetricData's request body (AOM API reference, "Adding Monitoring Data"). */
export interface MetricDataItem {
  collect_time: number;
  metric: { namespace: string; dimensions: { name: string; value: string }[] };
  values: { metric_name: string; type: 'int' | 'float'; unit?: string; value: number }[];
}

export const AOM_MAX_DIMENSIONS = 50;
/** AOM refuses larger requests (SVCSTG_AMS_4000008). */
export const AOM_MAX_REQUEST_BYTES = 40 * 1024;
const PAST_MS = 24 * 3600_000;
const FUTURE_MS = 30 * 60_000;

/**
 * A sample as AOM would accept it, or the reason AOM would refuse it. Checking here turns a
 * 400 for a whole batch into one clear message for the one bad sample.
 */
export function toMetricData(s: Sample, namespace: string, opts: { units?: Record<string, string>; externalLabels?: Labels; now?: number } = {}): MetricDataItem | string {
  if (s.kind !== 'gauge' && s.kind !== 'counter') return `AOM metric data takes gauges and counters, not ${s.kind}s`;
  if (!Number.isFinite(s.value) || s.value < 0) return `value ${s.value} is not a finite number >= 0`;
  if (s.name.length < 1 || s.name.length > 255) return 'metric name must be 1–255 characters';
  const now = opts.now ?? Date.now();
  if (s.timestamp < now - PAST_MS || s.timestamp > now + FUTURE_MS) return 'collect_time must be within the last 24 hours and the next 30 minutes';
  const dims: { name: string; value: string }[] = [];
  for (const [name, value] of Object.entries({ ...opts.externalLabels, ...s.labels })) {
    if (value === '') continue;
    if (name.length > 32) return `dimension name "${name}" is longer than 32 characters`;
    if (value.length > 64) return `dimension ${name}'s value is longer than 64 characters (${value.length}); shorten it with a relabel stage`;
    dims.push({ name, value });
  }
  if (dims.length === 0) return 'AOM needs at least one dimension: add a label (e.g. with relabel set:)';
  if (dims.length > AOM_MAX_DIMENSIONS) return `${dims.length} dimensions, AOM takes at most ${AOM_MAX_DIMENSIONS}`;
  const unit = opts.units?.[s.name];
  return {
    collect_time: Math.round(s.timestamp),
    metric: { namespace, dimensions: dims },
    values: [{ metric_name: s.name, type: Number.isInteger(s.value) ? 'int' : 'float', ...(unit ? { unit } : {}), value: s.value }],
  };
}

/** Splits items into request bodies under AOM's size limit. */
/** Request bodies under AOM's size limit, in order, each with how many items it carries. */
export function splitBySize(items: readonly MetricDataItem[], limit = AOM_MAX_REQUEST_BYTES): { body: string; items: number }[] {
  const bodies: { body: string; items: number }[] = [];
  let current: string[] = [];
  let size = 2;
  const close = () => bodies.push({ body: `[${current.join(',')}]`, items: current.length });
  for (const item of items) {
    const json = JSON.stringify(item);
    if (current.length && size + json.length + 1 > limit) {
      close();
      current = [];
      size = 2;
    }
    current.push(json);
    size += json.length + 1;
  }
  if (current.length) close();
  return bodies;
}

/** A namespace AOM accepts: service.item, 3–32 chars, no colon, service not "PAAS". */
export function namespaceProblem(ns: string): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9_]*\.[A-Za-z0-9_]+$/.test(ns) || ns.length < 3 || ns.length > 32) return 'must be service.item: 3–32 letters, digits and _, starting with a letter';
  if (ns.split('.')[0]!.toUpperCase() === 'PAAS') return 'the service part cannot be PAAS (reserved by AOM)';
  return undefined;
}

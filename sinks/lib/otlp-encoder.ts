import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import type { Labels, Sample } from '../../engine/model/sample.js';
import { labelsKey } from '../../engine/model/sample.js';
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../../engine/util/package-root.js';
import { OTLP_SEMCONV_OF } from '../../probes/lib/go/naming-profiles.js';
import { splitLabels, type KeyValue, type ResourceOptions, type SplitLabels } from './otlp-resource.js';

/** Parsed on first use: every agent imports the sink, few configure one. */
let types: { request: protobuf.Type; response: protobuf.Type } | undefined;
function otlpTypes() {
  if (!types) {
    const root = protobuf.parse(readFileSync(join(PACKAGE_ROOT, 'sinks', 'lib', 'otlp-metrics.proto'), 'utf8'), { keepCase: true }).root;
    types = { request: root.lookupType('otlp.ExportMetricsServiceRequest'), response: root.lookupType('otlp.ExportMetricsServiceResponse') };
  }
  return types;
}

const CUMULATIVE = 2;
/** DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK: the series has ended (Prometheus stores a staleness marker). */
const NO_RECORDED_VALUE = 1;

type Shape = 'gauge' | 'sum' | 'histogram';

/** One data point on its way out, with what it is grouped by: its resource and its metric. */
export interface OtlpPoint {
  resourceKey: string;
  resource: KeyValue[];
  name: string;
  unit: string;
  description: string;
  shape: Shape;
  point: Record<string, unknown>;
}

/** Unix milliseconds (fractional) → nanoseconds as a decimal string: exact beyond 2^53, which a double is not. */
export function unixNanos(ms: number): string {
  const whole = Math.trunc(ms);
  return (BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6))).toString();
}

/**
 * Our samples → OTLP data points, cumulative as our counters and histograms are. Cumulative
 * points need the start of their run: the first time the sink saw the series, moved to the
 * sample's time when the series restarted (a counter or histogram count going down). A series
 * that ended gets a point flagged "no recorded value" after its last one and is forgotten.
 */
export class OtlpPointBuilder {
  private readonly starts = new Map<string, { start: string; last: number }>();
  /** Labels are immutable and reused per process: split them once per labels object. */
  private readonly splits = new WeakMap<Labels, SplitLabels>();

  constructor(private readonly resource: ResourceOptions = {}) {}

  points(s: Sample): OtlpPoint[] {
    if (s.kind === 'event') return [];
    let split = this.splits.get(s.labels);
    if (!split) this.splits.set(s.labels, (split = splitLabels(s.labels, this.resource)));
    const time = unixNanos(s.timestamp);
    const shape: Shape = s.kind === 'gauge' ? 'gauge' : s.kind === 'counter' ? 'sum' : 'histogram';
    // The Go runtime probe's otel names go out as the semantic conventions spell them.
    const semconv = OTLP_SEMCONV_OF[s.name];
    const base = { resourceKey: split.resourceKey, resource: split.resource, name: semconv?.name ?? s.name, unit: semconv?.unit ?? '', description: s.help ?? '', shape };
    let point: Record<string, unknown>;
    // Where the series stands: attributes and, for a cumulative one, the start of its run.
    let times: Record<string, unknown> = { attributes: split.attributes };
    if (s.kind === 'gauge') point = { ...times, time_unix_nano: time, as_double: s.value };
    else {
      const key = s.name + labelsKey(s.labels);
      const level = s.kind === 'counter' ? s.value : s.count;
      let run = this.starts.get(key);
      if (!run || level < run.last) this.starts.set(key, (run = { start: time, last: level }));
      run.last = level;
      times = { ...times, start_time_unix_nano: run.start };
      point =
        s.kind === 'counter'
          ? { ...times, time_unix_nano: time, as_double: s.value }
          : { ...times, time_unix_nano: time, count: String(s.count), sum: s.sum, bucket_counts: s.counts.map(String), explicit_bounds: [...s.bounds] };
      if (s.ended) this.starts.delete(key);
    }
    const out: OtlpPoint[] = [{ ...base, point }];
    if (s.ended) out.push({ ...base, point: { ...times, time_unix_nano: unixNanos(s.timestamp + 1), flags: NO_RECORDED_VALUE } });
    return out;
  }
}

/**
 * An ExportMetricsServiceRequest for a batch: one ResourceMetrics per resource, one scope
 * (probeflow), one Metric per name and shape, points in arrival order.
 */
export function encodeExportRequest(batch: readonly OtlpPoint[]): Buffer {
  const resources = new Map<string, { resource: KeyValue[]; metrics: Map<string, { name: string; unit: string; description: string; shape: Shape; points: unknown[] }> }>();
  for (const p of batch) {
    let r = resources.get(p.resourceKey);
    if (!r) resources.set(p.resourceKey, (r = { resource: p.resource, metrics: new Map() }));
    const mk = `${p.shape}\u0001${p.name}`;
    let m = r.metrics.get(mk);
    if (!m) r.metrics.set(mk, (m = { name: p.name, unit: p.unit, description: p.description, shape: p.shape, points: [] }));
    m.points.push(p.point);
  }
  const resource_metrics = [...resources.values()].map((r) => ({
    resource: { attributes: r.resource },
    scope_metrics: [
      {
        scope: { name: 'probeflow', version: PACKAGE_VERSION },
        metrics: [...r.metrics.values()].map((m) => ({
          name: m.name,
          // proto3 leaves an empty string off the wire; protobufjs writes what it is given.
          ...(m.description ? { description: m.description } : {}),
          ...(m.unit ? { unit: m.unit } : {}),
          ...(m.shape === 'gauge'
            ? { gauge: { data_points: m.points } }
            : m.shape === 'sum'
              ? { sum: { data_points: m.points, aggregation_temporality: CUMULATIVE, is_monotonic: true } }
              : { histogram: { data_points: m.points, aggregation_temporality: CUMULATIVE } }),
        })),
      },
    ],
  }));
  const { request } = otlpTypes();
  return Buffer.from(request.encode(request.fromObject({ resource_metrics })).finish());
}

/** The inverse, for tests and local receivers; 64-bit integers as decimal strings. */
export function decodeExportRequest(body: Buffer): Record<string, unknown> {
  const { request } = otlpTypes();
  return request.toObject(request.decode(body), { longs: String, defaults: false, oneofs: false }) as Record<string, unknown>;
}

/** A receiver's answer: how many points it refused for good (partial success), and why. */
export function decodeExportResponse(body: Buffer): { rejected: number; message: string } {
  if (body.length === 0) return { rejected: 0, message: '' };
  const { response } = otlpTypes();
  const r = response.toObject(response.decode(body), { longs: Number }) as { partial_success?: { rejected_data_points?: number; error_message?: string } };
  return { rejected: r.partial_success?.rejected_data_points ?? 0, message: r.partial_success?.error_message ?? '' };
}

/** An ExportMetricsServiceResponse, for local receivers in tests. */
export function encodeExportResponse(rejected: number, message: string): Buffer {
  const { response } = otlpTypes();
  return Buffer.from(response.encode(response.fromObject(rejected || message ? { partial_success: { rejected_data_points: rejected, error_message: message } } : {})).finish());
}

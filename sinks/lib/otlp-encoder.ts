import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../../engine/util/package-root.js';
import type { OtlpPoint, Shape } from './otlp-points.js';
import type { KeyValue } from './otlp-resource.js';

/** Parsed on first use. */
let types: { request: protobuf.Type; response: protobuf.Type } | undefined;
function otlpTypes() {
  if (!types) {
    const root = protobuf.parse(readFileSync(join(PACKAGE_ROOT, 'sinks', 'lib', 'otlp-metrics.proto'), 'utf8'), { keepCase: true }).root;
    types = { request: root.lookupType('otlp.ExportMetricsServiceRequest'), response: root.lookupType('otlp.ExportMetricsServiceResponse') };
  }
  return types;
}

const CUMULATIVE = 2;

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

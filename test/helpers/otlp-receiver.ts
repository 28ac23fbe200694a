import { gunzipSync } from 'node:zlib';
import { decodeExportRequest, encodeExportResponse } from '../../sinks/lib/otlp-encoder.js';
import { RecordingReceiver } from './push-receiver.js';

/** One decoded data point with its resource's and its own attributes as plain maps. */
export interface ReceivedPoint {
  resource: Record<string, string | number>;
  metric: string;
  shape: 'gauge' | 'sum' | 'histogram';
  sum?: { aggregation_temporality: number; is_monotonic: boolean };
  attributes: Record<string, string | number>;
  point: Record<string, unknown>;
}

type Kv = { key: string; value: { string_value?: string; int_value?: string } };
const attrs = (kvs: Kv[] | undefined) => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, kv.value.string_value ?? Number(kv.value.int_value)]));

/**
 * An OTLP/HTTP metrics receiver on loopback: gunzips when told to, decodes the
 * ExportMetricsServiceRequest, answers 200 with an empty ExportMetricsServiceResponse unless
 * the script says otherwise.
 */
export class OtlpReceiver extends RecordingReceiver<Record<string, unknown>> {
  constructor() {
    super(
      (body, headers) => decodeExportRequest(headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body),
      '/v1/metrics',
      { status: 200, headers: { 'content-type': 'application/x-protobuf' }, body: encodeExportResponse(0, '') },
    );
  }

  /** Every point of every accepted (2xx) request, in arrival order. */
  points(): ReceivedPoint[] {
    const out: ReceivedPoint[] = [];
    for (const r of this.received) {
      if (!r.request || r.status >= 300) continue;
      for (const rm of (r.request.resource_metrics ?? []) as { resource?: { attributes?: Kv[] }; scope_metrics?: { metrics?: Record<string, unknown>[] }[] }[]) {
        for (const sm of rm.scope_metrics ?? []) {
          for (const m of sm.metrics ?? []) {
            const shape = (['gauge', 'sum', 'histogram'] as const).find((k) => m[k])!;
            const data = m[shape] as { data_points?: Record<string, unknown>[]; aggregation_temporality?: number; is_monotonic?: boolean };
            for (const p of data.data_points ?? []) {
              out.push({
                resource: attrs(rm.resource?.attributes),
                metric: m.name as string,
                shape,
                ...(shape === 'sum' ? { sum: { aggregation_temporality: data.aggregation_temporality ?? 0, is_monotonic: data.is_monotonic ?? false } } : {}),
                attributes: attrs(p.attributes as Kv[] | undefined),
                point: p,
              });
            }
          }
        }
      }
    }
    return out;
  }
}

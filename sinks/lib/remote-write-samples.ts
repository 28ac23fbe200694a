import type { Sample } from '../../engine/model/sample.js';

/*
 * Samples as remote_write carries them, without protobuf or snappy: the Prometheus sink
 * (formatLe) and every sink's write() need only this, and the encoder's libraries are loaded
 * when a remote_write sink first sends.
 */

/** One remote_write sample: its series' sorted labels (with __name__), value and time. */
export interface WireSample {
  /** Sorted by name, __name__ included, no empty values. */
  labels: [string, string][];
  /** Identity of the series, for grouping. */
  key: string;
  value: number;
  timestamp: number;
}

/**
 * Our samples → remote_write samples. Histograms become the classic series Prometheus
 * exposes (_bucket with cumulative counts and le, _sum, _count; a histogram without bounds is a
 * summary without quantiles, _sum and _count only, as a scrape stores it); events have no remote_write
 * form and are not accepted by the sink. Empty label values are dropped (an empty label is
 * an absent label in Prometheus).
 */
export function toWireSamples(s: Sample, extraLabels: Record<string, string> = {}): WireSample[] {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...extraLabels, ...s.labels })) if (v !== '') base[k] = v;
  const one = (name: string, value: number, extra?: [string, string]): WireSample => {
    const labels: [string, string][] = [['__name__', name], ...Object.entries(base)];
    if (extra) labels.push(extra);
    labels.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return { labels, key: labels.map(([k, v]) => `${k}\u0001${v}`).join('\u0002'), value, timestamp: Math.round(s.timestamp) };
  };
  const out: WireSample[] = [];
  if (s.kind === 'histogram') {
    let cumulative = 0;
    if (s.bounds.length > 0) s.counts.forEach((c, i) => {
      cumulative += c;
      out.push(one(`${s.name}_bucket`, cumulative, ['le', i < s.bounds.length ? formatLe(s.bounds[i]!) : '+Inf']));
    });
    out.push(one(`${s.name}_sum`, s.sum), one(`${s.name}_count`, s.count));
  } else out.push(one(s.name, s.value));
  // An ended series is marked stale right after its last value, as Prometheus does for a
  // target's vanished series, so queries stop returning it at once rather than for 5 minutes.
  if (s.ended) for (let i = 0, n = out.length; i < n; i++) out.push({ ...out[i]!, value: STALE_NAN, timestamp: out[i]!.timestamp + 1 });
  return out;
}

/** Prometheus's staleness marker: the NaN with payload 2 (value.StaleNaN). */
export const STALE_NAN = (() => {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(0x7ff00000, 4);
  b.writeUInt32LE(0x00000002, 0);
  return b.readDoubleLE(0);
})();

export function isStaleNaN(v: number): boolean {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return b.readUInt32LE(4) === 0x7ff00000 && b.readUInt32LE(0) === 2;
}

/** le values as Prometheus clients write them: "0.005", "1", "+Inf". */
export function formatLe(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

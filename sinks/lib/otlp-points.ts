import type { Labels, Sample } from '../../engine/model/sample.js';
import { keyOf } from '../../engine/model/sample.js';
import { OTLP_SEMCONV_OF } from '../../probes/lib/go/naming-profiles.js';
import { splitLabels, type KeyValue, type ResourceOptions, type SplitLabels } from './otlp-resource.js';

/*
 * Samples as OTLP data points, without protobuf: the sink's write() needs only this, and
 * protobufjs is loaded when an otlp sink first sends (otlp-encoder.ts).
 */

/** DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK: the series has ended (Prometheus stores a staleness marker). */
const NO_RECORDED_VALUE = 1;

export type Shape = 'gauge' | 'sum' | 'histogram';

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
      const key = keyOf(s);
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

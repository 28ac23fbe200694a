/**
 * The one data model that flows from probes through stages into sinks.
 * Shaped after Prometheus/OpenMetrics so every sink maps it 1:1.
 */
export type SampleKind = 'counter' | 'gauge' | 'histogram' | 'event';
export const SAMPLE_KINDS: readonly SampleKind[] = ['counter', 'gauge', 'histogram', 'event'];

export type Labels = Readonly<Record<string, string>>;

interface SampleBase {
  readonly name: string;
  readonly labels: Labels;
  /** Unix epoch milliseconds. */
  readonly timestamp: number;
  /** What the metric means, for sinks that export it (Prometheus # HELP); optional. */
  readonly help?: string;
  /**
   * The series' last sample: its source (a process) is gone. Sinks end the series after it —
   * the exposition drops it, remote_write sends Prometheus's staleness marker — instead of
   * keeping its last value until their TTL.
   */
  readonly ended?: true;
}

/** Monotonic cumulative value; a drop means the source restarted. */
export interface CounterSample extends SampleBase {
  readonly kind: 'counter';
  readonly value: number;
}

export interface GaugeSample extends SampleBase {
  readonly kind: 'gauge';
  readonly value: number;
}

/**
 * Cumulative histogram as Prometheus exposes it, but with per-bucket (non-cumulative)
 * counts: `counts[i]` observations fell in (bounds[i-1], bounds[i]], and the last entry of
 * `counts` (length bounds.length + 1) is the +Inf overflow bucket.
 *
 * With no bounds it is a summary without quantiles, as client_golang's go_gc_duration_seconds
 * is when nothing can compute its quantiles honestly: sinks that speak Prometheus expose only
 * its _sum and _count, under TYPE summary.
 */
export interface HistogramSample extends SampleBase {
  readonly kind: 'histogram';
  readonly bounds: readonly number[];
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

/** A single occurrence (a probe hit, an alert transition) with an optional numeric value. */
export interface EventSample extends SampleBase {
  readonly kind: 'event';
  readonly value: number;
  readonly fields?: Readonly<Record<string, string | number>>;
}

/** Spread into a derived sample, `...(s.ended && ENDED)`, so the end of a source series ends what came of it. */
export const ENDED = { ended: true } as const;

/**
 * A gauge a stage derives from `from`: its labels and time, and its end if it was the last.
 * Built as a literal, not by spreading: stages make one per sample.
 */
export function derivedGauge(name: string, from: SampleBase, value: number): GaugeSample {
  return from.ended
    ? { kind: 'gauge', name, labels: from.labels, timestamp: from.timestamp, value, ended: true }
    : { kind: 'gauge', name, labels: from.labels, timestamp: from.timestamp, value };
}

export type Sample = CounterSample | GaugeSample | HistogramSample | EventSample;
export type NumericSample = CounterSample | GaugeSample | EventSample;

/**
 * Samples travel in batches: a probe hands over everything it read in one wakeup, so RxJS
 * pays its per-notification cost once per batch instead of once per sample.
 */
export type SampleBatch = readonly Sample[];

export function isNumeric(s: Sample): s is NumericSample {
  return s.kind !== 'histogram';
}

/**
 * The sorted-labels part of series keys, memoized per labels object: probes hand out one
 * labels object per process for every read, so the sort and concatenation run once per
 * series instead of once per sample at each stage. Labels are never mutated (Readonly).
 */
const labelsKeys = new WeakMap<Labels, string>();

export function labelsKey(labels: Labels): string {
  let key = labelsKeys.get(labels);
  if (key === undefined) {
    key = '';
    for (const k of Object.keys(labels).sort()) key += `\u0000${k}\u0001${labels[k]}`;
    labelsKeys.set(labels, key);
  }
  return key;
}

/**
 * `labels` plus one label, the same object every time for the same base object, name and
 * value: a probe that adds reason="…" or p="3" to its process's labels on every read then hands
 * out one labels object per series, and labelsKey's memo holds across reads.
 */
const derived = new WeakMap<Labels, Map<string, Map<string, Labels>>>();

export function withLabel(labels: Labels, name: string, value: string): Labels {
  let byName = derived.get(labels);
  if (!byName) derived.set(labels, (byName = new Map()));
  // By name, then by value, not by a `name=value` string: that was a fresh string to build and
  // hash per call (a seventh of a go_runtime read, profiled); names and wait reasons come from
  // tables, strings whose hashes V8 keeps.
  let byValue = byName.get(name);
  if (!byValue) byName.set(name, (byValue = new Map()));
  let out = byValue.get(value);
  if (!out) byValue.set(value, (out = { ...labels, [name]: value }));
  return out;
}

/**
 * Stable identity of a time series: name plus sorted labels. Memoized per labels object and
 * name, so every stage a sample passes gets the same string object: a fresh concatenation per
 * call would be hashed again at each Map lookup, and was a tenth of a stage's time.
 */
const seriesKeys = new WeakMap<Labels, Map<string, string>>();

export function seriesKey(name: string, labels: Labels): string {
  let byName = seriesKeys.get(labels);
  if (!byName) seriesKeys.set(labels, (byName = new Map()));
  let key = byName.get(name);
  if (key === undefined) byName.set(name, (key = name + labelsKey(labels)));
  return key;
}

export function keyOf(s: Sample): string {
  return seriesKey(s.name, s.labels);
}

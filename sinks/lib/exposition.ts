import type { Labels, Sample } from '../../engine/model/sample.js';
import { labelsKey } from '../../engine/model/sample.js';
import { formatLe } from './remote-write-samples.js';

type Kind = 'counter' | 'gauge' | 'histogram' | 'summary';

/** A histogram without bounds is a summary without quantiles (HistogramSample). */
function kindOf(s: Exclude<Sample, { kind: 'event' }>): Kind {
  return s.kind === 'histogram' && s.bounds.length === 0 ? 'summary' : s.kind;
}

/**
 * The latest values of a series, copied out of its sample: a sample held until the next
 * scrape outlives V8's young generation and is promoted, to die in the old one (14k samples
 * every interval with 100 Go processes, left to major GCs); copied out, it dies young.
 */
interface Series {
  /** `{a="b",c="d"}` (or ''), shared by every series with the same labels object. */
  labelText: string;
  /** A counter's or gauge's value. */
  value: number;
  /** A histogram's sum and count. */
  sum: number;
  count: number;
  /** A histogram's bounds (the sample's array) and per-bucket counts (its own, overwritten in place). */
  bounds?: readonly number[];
  counts?: number[];
  /** `name_bucket{…,le="…"} ` for each of `bounds` and +Inf, made at the first scrape. */
  bucketPrefixes?: string[];
  updatedAt: number;
}

function newSeries(s: Exclude<Sample, { kind: 'event' }>, labelText: string, now: number): Series {
  const series: Series = { labelText, value: 0, sum: 0, count: 0, updatedAt: now };
  setValues(series, s);
  return series;
}

function setValues(series: Series, s: Exclude<Sample, { kind: 'event' }>): void {
  if (s.kind !== 'histogram') {
    series.value = s.value;
    return;
  }
  series.sum = s.sum;
  series.count = s.count;
  if (s.bounds.length === 0) return;
  const counts = series.counts;
  if (series.bounds === s.bounds && counts?.length === s.counts.length) {
    for (let i = 0; i < counts.length; i++) counts[i] = s.counts[i]!;
    return;
  }
  series.bounds = s.bounds;
  series.counts = [...s.counts];
  series.bucketPrefixes = undefined;
}

interface Family {
  kind: Kind;
  help?: string;
  series: Map<string, Series>;
}

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Rendered text goes out in pieces of about this size: a scrape of 100k series is ~7 MB. */
const CHUNK_CHARS = 64 * 1024;

/**
 * The latest sample of every series, exposed in the Prometheus text format or OpenMetrics.
 * Label text is escaped once per labels object, so a scrape costs a string per sample, not
 * per label. A name keeps the kind it was first seen with: Prometheus allows one TYPE per name.
 */
export class SeriesStore {
  private readonly families = new Map<string, Family>();
  conflicts = 0;
  private lastExpire: number;
  /**
   * No series was updated before this: a sweep (every scrape) walks all of them only when one
   * may be past the TTL, about once per TTL, not 14k series every 10 s to find none.
   */
  private oldestUpdate = Infinity;

  constructor(private readonly ttlMs: number) {
    this.lastExpire = Date.now();
  }

  /**
   * Also expires, at most every quarter TTL: an endpoint nobody scrapes (a Prometheus that is
   * down, a typo in its job) must not grow with every process the node ever ran.
   */
  update(batch: readonly Sample[], now = Date.now()): void {
    if (now - this.lastExpire >= Math.max(1000, this.ttlMs / 4)) this.expire(now);
    if (now < this.oldestUpdate) this.oldestUpdate = now;
    for (const s of batch) {
      if (s.kind === 'event') continue;
      const kind = kindOf(s);
      let f = this.families.get(s.name);
      if (!f) this.families.set(s.name, (f = { kind, series: new Map() }));
      if (s.help && !f.help) f.help = s.help;
      if (f.kind !== kind) {
        this.conflicts++;
        continue;
      }
      // Families are per name already; the memoized labels key hashes once per series.
      const key = labelsKey(s.labels);
      // Its process is gone: the next scrape no longer shows it (Prometheus marks it stale).
      if (s.ended) {
        f.series.delete(key);
        if (f.series.size === 0) this.families.delete(s.name);
        continue;
      }
      const prev = f.series.get(key);
      if (prev) {
        setValues(prev, s);
        prev.updatedAt = now;
      } else f.series.set(key, newSeries(s, labelText(s.labels), now));
    }
  }

  /** Forgets series older than the TTL (and families left empty). */
  expire(now = Date.now()): void {
    this.lastExpire = now;
    if (now - this.oldestUpdate <= this.ttlMs) return;
    let oldest = Infinity;
    this.families.forEach((f, name) => {
      f.series.forEach((s, k) => {
        if (now - s.updatedAt > this.ttlMs) f.series.delete(k);
        else if (s.updatedAt < oldest) oldest = s.updatedAt;
      });
      if (f.series.size === 0) this.families.delete(name);
    });
    this.oldestUpdate = oldest;
  }

  get seriesCount(): number {
    let n = 0;
    for (const f of this.families.values()) n += f.series.size;
    return n;
  }

  render(format: 'text' | 'openmetrics'): string {
    let out = '';
    for (const chunk of this.chunks(format)) out += chunk;
    return out;
  }

  /**
   * The exposition in pieces of ~64 KiB, for a response to stream: one string of the whole
   * scrape (and an array of one string per line before it) is garbage big enough to grow the
   * old generation by tens of MB at 100k series, every scrape.
   */
  *chunks(format: 'text' | 'openmetrics'): Generator<string> {
    const om = format === 'openmetrics';
    let out = '';
    for (const [name, f] of [...this.families].sort(([a], [b]) => (a < b ? -1 : 1))) {
      // OpenMetrics names a counter family without _total and its sample with it.
      const family = om && f.kind === 'counter' ? name.replace(/_total$/, '') : name;
      out += `# HELP ${family} ${escapeHelp(f.help ?? `${f.kind} ${name} from a probeflow pipeline`)}\n# TYPE ${family} ${f.kind}\n`;
      const sampleName = om && f.kind === 'counter' ? `${family}_total` : name;
      const histogram = f.kind === 'histogram' || f.kind === 'summary';
      for (const s of f.series.values()) {
        if (histogram) {
          if (s.counts) {
            const prefixes = bucketPrefixes(name, s);
            let cumulative = 0;
            for (let i = 0; i < s.counts.length; i++) out += prefixes[i]! + num((cumulative += s.counts[i]!)) + '\n';
          }
          out += `${name}_sum${s.labelText} ${num(s.sum)}\n${name}_count${s.labelText} ${num(s.count)}\n`;
        } else out += sampleName + s.labelText + ' ' + num(s.value) + '\n';
        if (out.length >= CHUNK_CHARS) {
          yield out;
          out = '';
        }
      }
    }
    if (out) yield out;
  }
}

function bucketPrefixes(name: string, s: Series): string[] {
  if (!s.bucketPrefixes) {
    const prefixes = s.bounds!.map((b) => `${name}_bucket${withLabel(s.labelText, 'le', formatLe(b))} `);
    prefixes.push(`${name}_bucket${withLabel(s.labelText, 'le', '+Inf')} `);
    s.bucketPrefixes = prefixes;
  }
  return s.bucketPrefixes;
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

const labelTexts = new WeakMap<Labels, string>();

/** `{a="b",…}`, sorted and escaped, memoized per labels object (probes reuse them per series). */
export function labelText(labels: Labels): string {
  let text = labelTexts.get(labels);
  if (text === undefined) labelTexts.set(labels, (text = formatLabels(labels)));
  return text;
}

function formatLabels(labels: Labels): string {
  const parts = Object.keys(labels)
    .sort()
    .filter((k) => labels[k] !== '')
    .map((k) => `${k}="${escapeValue(labels[k]!)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function withLabel(text: string, name: string, value: string): string {
  const pair = `${name}="${escapeValue(value)}"`;
  return text ? `${text.slice(0, -1)},${pair}}` : `{${pair}}`;
}

/** Go's float text: integers plain, +Inf/-Inf/NaN spelled as Prometheus parses them. */
export function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

import type { Labels, Sample } from '../../engine/model/sample.js';
import { labelsKey } from '../../engine/model/sample.js';
import { BatchPositions } from '../../engine/model/batch-positions.js';
import { formatLe } from './remote-write-samples.js';
import { NO_BLOCK, OP_ACCUMULATE, OP_CUMULATIVE, OP_NONE, OP_VALUE, SLOT_SHIFT, textBinding, type TextBlocks } from './text-blocks.js';

type Kind = 'counter' | 'gauge' | 'histogram' | 'summary';
type Format = 'text' | 'openmetrics';
type Exposed = Exclude<Sample, { kind: 'event' }>;

/** A histogram without bounds is a summary without quantiles (HistogramSample). */
function kindOf(s: Exposed): Kind {
  return s.kind === 'histogram' && s.bounds.length === 0 ? 'summary' : s.kind;
}

/**
 * A series is where its latest values sit in the store's values array, not its sample: a
 * sample held until the next scrape outlived V8's young generation and was promoted, to die
 * in the old one (14k samples every interval with 100 Go processes).
 */
interface Series {
  family: Family;
  /** The series' label text, `{a="b",c="d"` without its closing brace (shared, counted). */
  labels: LabelBlock;
  /** Its first value slot: a value; or a histogram's sum, count, then one count per bucket. */
  slot: number;
  /** Slots it holds. */
  width: number;
  /** A histogram's bounds (the sample's array): a different array may change the layout. */
  bounds?: readonly number[];
  /**
   * The frozen counts array whose buckets its slots hold: a sample with the same array has the
   * same buckets, not written again. A producer freezes a counts array it hands out more than
   * once (the go_runtime probe, a pause histogram's until a pause lands in it); others are not
   * remembered, so the store keeps no sample's array alive that nothing else holds.
   */
  counts?: readonly number[];
  updatedAt: number;
}

interface LabelBlock {
  id: number;
  /** Series that print it; at 0 its bytes go. */
  refs: number;
  key: string;
}

/** A family's header and sample names as one format writes them, made at the first render. */
interface FamilyBlocks {
  header: number;
  /** The counter's or gauge's sample name (OpenMetrics: a counter's with _total). */
  sample: number;
  bucket: number;
  sum: number;
  count: number;
}

interface Family {
  kind: Kind;
  help?: string;
  series: Map<string, Series>;
  blocks: Partial<Record<Format, FamilyBlocks>>;
}

/** The order of lines one format prints, rebuilt when a series or family comes or goes. */
interface Layout {
  lines: Uint32Array;
  count: number;
  stale: boolean;
}

/** A rendered body in the store's own buffer until released: the next render reuses it. */
export interface Body {
  bytes: Buffer;
  release(): void;
}

/** The smallest buffer a body is rendered into. */
const MIN_BODY_BUFFER = 64 * 1024;

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/**
 * The latest sample of every series, exposed in the Prometheus text format or OpenMetrics.
 * Everything a line prints but its value is made into bytes once (family names and headers,
 * one label text per label set, le suffixes shared by all histograms), held by
 * native/exposition_text.cc, which prints a body from them and the values in one call: a
 * scrape makes no string per line. A name keeps the kind it was first seen with: Prometheus
 * allows one TYPE per name.
 */
export class SeriesStore {
  private readonly families = new Map<string, Family>();
  private readonly blocks: TextBlocks = new (textBinding().TextBlocks)();
  private readonly labelBlocks = new Map<string, LabelBlock>();
  /** ` ` / `} ` after a series' labels, `{le="…"} ` / `,le="…"} ` after a bucket's: few, kept. */
  private readonly suffixes = new Map<string, number>();
  private readonly bucketSuffixIds = new WeakMap<readonly number[], { labelled: number[]; bare: number[] }>();
  private values = new Float64Array(1024);
  /** Slots below it have been handed out; freed ones wait by width for a series of that width. */
  private slotsUsed = 0;
  private readonly freeSlots = new Map<number, number[]>();
  private readonly layouts: Record<Format, Layout> = {
    text: { lines: new Uint32Array(0), count: 0, stale: true },
    openmetrics: { lines: new Uint32Array(0), count: 0, stale: true },
  };
  /**
   * The buffer bodies are rendered into (exposition()), while no scrape holds it: a new one per
   * scrape would be freed only by a garbage collection, and with little else allocated those
   * are rare, so bodies (~7 MB at 100k series) piled up.
   */
  private spare?: Buffer;
  /** Each sample's series by its place in the batch (BatchPositions): found without hashing its key. */
  private readonly positions = new BatchPositions<Series>();
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
    const t = this.positions.begin(batch.length);
    // Indexed: an array iterator allocates per sample under the image's interpreter.
    for (let i = 0; i < batch.length; i++) {
      const s = batch[i]!;
      let series = s.ended ? undefined : this.positions.at(t, i, s);
      // A histogram whose bounds moved may now be a summary (another family): looked up again.
      if (!series || (s.kind === 'histogram' && s.bounds !== series.bounds)) {
        series = this.find(s, now);
        this.positions.remember(t, i, s, series);
        if (!series) continue;
      }
      series.updatedAt = now;
      if (s.help && !series.family.help) {
        series.family.help = s.help;
        this.dropFamilyBlocks(series.family);
      }
      if (s.kind === 'histogram' && s.bounds !== series.bounds) this.rebound(series, s);
      this.setValues(series, s as Exposed);
    }
    this.positions.end(t);
  }

  /** A sample's series by name and labels; made if new; undefined if the sample is not for the exposition (or ends its series). */
  private find(s: Sample, now: number): Series | undefined {
    if (s.kind === 'event') return undefined;
    const kind = kindOf(s);
    let f = this.families.get(s.name);
    if (!f) {
      this.families.set(s.name, (f = { kind, series: new Map(), blocks: {} }));
      this.relayout();
    }
    if (f.kind !== kind) {
      this.conflicts++;
      return undefined;
    }
    // Families are per name already; the memoized labels key hashes once per series.
    const key = labelsKey(s.labels);
    const series = f.series.get(key);
    // Its process is gone: the next scrape no longer shows it (Prometheus marks it stale).
    if (s.ended) {
      if (series) this.remove(s.name, f, key, series);
      else if (f.series.size === 0) this.dropFamily(s.name, f);
      return undefined;
    }
    if (series) return series;
    const made = this.newSeries(s, f, key, now);
    f.series.set(key, made);
    return made;
  }

  /** Forgets series older than the TTL (and families left empty). */
  expire(now = Date.now()): void {
    this.lastExpire = now;
    if (now - this.oldestUpdate <= this.ttlMs) return;
    let oldest = Infinity;
    this.families.forEach((f, name) => {
      f.series.forEach((s, k) => {
        if (now - s.updatedAt > this.ttlMs) this.remove(name, f, k, s);
        else if (s.updatedAt < oldest) oldest = s.updatedAt;
      });
    });
    this.oldestUpdate = oldest;
  }

  get seriesCount(): number {
    let n = 0;
    for (const f of this.families.values()) n += f.series.size;
    return n;
  }

  /** Blocks of text held for the series and families there are now (tests: nothing leaks). */
  get textBlocks(): number {
    return this.blocks.count();
  }

  render(format: Format): string {
    const body = exposition(format, [this]);
    try {
      return body.bytes.toString('utf8');
    } finally {
      body.release();
    }
  }

  /**
   * Holds exactly `batch`'s series from now on: those not in it go (the engine's own metrics,
   * read whole at every scrape, where a component that went must not linger).
   */
  replace(batch: readonly Sample[], now = Date.now()): void {
    this.lastExpire = now; // no sweep before: the batch refreshes what it still has
    this.update(batch, now);
    this.families.forEach((f, name) => f.series.forEach((s, k) => s.updatedAt < now && this.remove(name, f, k, s)));
  }

  /** @internal exposition()'s side: this store's lines into `out` from `at`; their length, or minus what they need. */
  renderInto(format: Format, out: Buffer, at: number): number {
    const layout = this.layouts[format];
    if (layout.stale) this.lay(format, layout);
    return this.blocks.render(layout.lines, layout.count, this.values, at === 0 ? out : out.subarray(at));
  }

  /** @internal The buffer bodies are rendered into, if no scrape holds it. */
  takeSpare(): Buffer | undefined {
    const spare = this.spare;
    this.spare = undefined;
    return spare;
  }

  /** @internal A buffer back from a scrape: kept unless far larger than the body now (series went). */
  giveSpare(out: Buffer, used: number): void {
    if (out.length <= 2 * used + MIN_BODY_BUFFER) this.spare = out;
  }

  private newSeries(s: Exposed, family: Family, key: string, now: number): Series {
    const series: Series = { family, labels: this.labelBlock(s.labels, key), slot: 0, width: 0, updatedAt: now };
    this.place(series, s);
    this.setValues(series, s);
    this.relayout();
    return series;
  }

  private remove(name: string, f: Family, key: string, s: Series): void {
    this.positions.forget();
    f.series.delete(key);
    this.freeSlotsOf(s);
    if (--s.labels.refs === 0) {
      if (s.labels.id !== NO_BLOCK) this.blocks.drop(s.labels.id);
      this.labelBlocks.delete(s.labels.key);
    }
    if (f.series.size === 0) this.dropFamily(name, f);
    this.relayout();
  }

  private dropFamily(name: string, f: Family): void {
    this.positions.forget();
    this.dropFamilyBlocks(f);
    this.families.delete(name);
  }

  /** A histogram's bounds array changed: the same values keep its slots, others re-place it. */
  private rebound(series: Series, s: Extract<Exposed, { kind: 'histogram' }>): void {
    const old = series.bounds!;
    if (old.length === s.bounds.length && old.every((b, i) => b === s.bounds[i])) {
      series.bounds = s.bounds;
      return;
    }
    this.freeSlotsOf(series);
    this.place(series, s);
    this.relayout();
  }

  /** Slots for the sample's values: one, or a histogram's sum, count and buckets. */
  private place(series: Series, s: Exposed): void {
    const width = s.kind === 'histogram' ? 2 + (s.bounds.length ? s.bounds.length + 1 : 0) : 1;
    if (s.kind === 'histogram') series.bounds = s.bounds;
    series.width = width;
    // New slots hold another series' values, or none yet.
    series.counts = undefined;
    const free = this.freeSlots.get(width);
    if (free?.length) {
      series.slot = free.pop()!;
      return;
    }
    if (this.slotsUsed + width > this.values.length) {
      const grown = new Float64Array(Math.max(this.values.length * 2, this.slotsUsed + width));
      grown.set(this.values);
      this.values = grown;
    }
    series.slot = this.slotsUsed;
    this.slotsUsed += width;
  }

  private freeSlotsOf(s: Series): void {
    let free = this.freeSlots.get(s.width);
    if (!free) this.freeSlots.set(s.width, (free = []));
    free.push(s.slot);
  }

  private setValues(series: Series, s: Exposed): void {
    const v = this.values;
    const at = series.slot;
    if (s.kind !== 'histogram') {
      v[at] = s.value;
      return;
    }
    v[at] = s.sum;
    v[at + 1] = s.count;
    if (s.counts === series.counts) return;
    for (let i = 2; i < series.width; i++) v[at + i] = s.counts[i - 2] ?? 0;
    series.counts = Object.isFrozen(s.counts) ? s.counts : undefined;
  }

  private labelBlock(labels: Labels, key: string): LabelBlock {
    let b = this.labelBlocks.get(key);
    if (!b) {
      const text = formatLabels(labels);
      this.labelBlocks.set(key, (b = { id: text ? this.blocks.put(text) : NO_BLOCK, refs: 0, key }));
    }
    b.refs++;
    return b;
  }

  private suffix(text: string): number {
    let id = this.suffixes.get(text);
    if (id === undefined) this.suffixes.set(text, (id = this.blocks.put(text)));
    return id;
  }

  /** The le suffix of each bucket, +Inf last, per bounds array: a layout makes no string per bucket. */
  private bucketSuffixes(bounds: readonly number[], labelled: boolean): readonly number[] {
    let both = this.bucketSuffixIds.get(bounds);
    if (!both) {
      const les = [...bounds.map(formatLe), '+Inf'];
      both = { labelled: les.map((le) => this.suffix(`,le="${le}"} `)), bare: les.map((le) => this.suffix(`{le="${le}"} `)) };
      this.bucketSuffixIds.set(bounds, both);
    }
    return labelled ? both.labelled : both.bare;
  }

  private familyBlocks(name: string, f: Family, format: Format): FamilyBlocks {
    let b = f.blocks[format];
    if (!b) {
      // OpenMetrics names a counter family without _total and its sample with it.
      const counterOm = format === 'openmetrics' && f.kind === 'counter';
      const family = counterOm ? name.replace(/_total$/, '') : name;
      const put = (text: string) => this.blocks.put(text);
      b = {
        header: put(`# HELP ${family} ${escapeHelp(f.help ?? `${f.kind} ${name} from a probeflow pipeline`)}\n# TYPE ${family} ${f.kind}\n`),
        sample: put(counterOm ? `${family}_total` : name),
        bucket: put(`${name}_bucket`),
        sum: put(`${name}_sum`),
        count: put(`${name}_count`),
      };
      f.blocks[format] = b;
    }
    return b;
  }

  private dropFamilyBlocks(f: Family): void {
    for (const b of Object.values(f.blocks)) for (const id of [b.header, b.sample, b.bucket, b.sum, b.count]) this.blocks.drop(id);
    f.blocks = {};
    this.relayout();
  }

  private relayout(): void {
    this.layouts.text.stale = true;
    this.layouts.openmetrics.stale = true;
  }

  /** The line table of one format: families by name, each one's series in the order they came. */
  private lay(format: Format, layout: Layout): void {
    let count = 0;
    for (const f of this.families.values()) {
      count++;
      // A series prints a line per slot: a value; or a bucket each, _sum and _count.
      for (const s of f.series.values()) count += s.width;
    }
    if (layout.lines.length < count * 4) layout.lines = new Uint32Array(count * 4 + (count >> 2) * 4);
    const lines = layout.lines;
    let at = 0;
    const line = (a: number, b: number, c: number, op: number, slot: number) => {
      lines[at] = a;
      lines[at + 1] = b;
      lines[at + 2] = c;
      lines[at + 3] = op | (slot << SLOT_SHIFT);
      at += 4;
    };
    for (const name of [...this.families.keys()].sort()) {
      const f = this.families.get(name)!;
      const b = this.familyBlocks(name, f, format);
      line(b.header, NO_BLOCK, NO_BLOCK, OP_NONE, 0);
      const histogram = f.kind === 'histogram' || f.kind === 'summary';
      for (const s of f.series.values()) {
        const labelled = s.labels.id !== NO_BLOCK;
        const close = this.suffix(labelled ? '} ' : ' ');
        if (!histogram) {
          line(b.sample, s.labels.id, close, OP_VALUE, s.slot);
          continue;
        }
        const les = s.width > 2 ? this.bucketSuffixes(s.bounds!, labelled) : [];
        for (let i = 0; i < les.length; i++) line(b.bucket, s.labels.id, les[i]!, i === 0 ? OP_CUMULATIVE : OP_ACCUMULATE, s.slot + 2 + i);
        line(b.sum, s.labels.id, close, OP_VALUE, s.slot);
        line(b.count, s.labels.id, close, OP_VALUE, s.slot + 1);
      }
    }
    layout.count = at / 4;
    layout.stale = false;
  }
}

/**
 * The stores' expositions one after another, then `trailer`, as UTF-8 bytes in the first
 * store's buffer until `release()`. Release it only once nothing reads the bytes any more
 * (the response is out); a body never released is left to the garbage collector, and the next
 * one gets a buffer of its own.
 */
export function exposition(format: Format, stores: readonly SeriesStore[], trailer = ''): Body {
  const owner = stores[0]!;
  let out = owner.takeSpare() ?? Buffer.allocUnsafeSlow(MIN_BODY_BUFFER);
  const fill = (): number => {
    let at = 0;
    let short = false;
    for (const store of stores) {
      const n = store.renderInto(format, out, short ? out.length : at);
      short ||= n < 0;
      at += Math.abs(n);
    }
    if (at + trailer.length > out.length) return -(at + trailer.length);
    return short ? -at : at + out.write(trailer, at, 'latin1');
  };
  let n = fill();
  if (n < 0) {
    // More series than the buffer was made for: room for some more, rendered again.
    out = Buffer.allocUnsafeSlow(Math.ceil(-n * 1.25));
    n = fill();
  }
  let lent = true;
  return {
    bytes: out.subarray(0, n),
    release: () => {
      if (lent) owner.giveSpare(out, n);
      lent = false;
    },
  };
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** `{a="b",c="d"` (the caller closes it), sorted, escaped, without empty labels; '' for none. */
function formatLabels(labels: Labels): string {
  const parts = Object.keys(labels)
    .sort()
    .filter((k) => labels[k] !== '')
    .map((k) => `${k}="${escapeValue(labels[k]!)}"`);
  return parts.length ? `{${parts.join(',')}` : '';
}

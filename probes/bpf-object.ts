import { isAbsolute, resolve } from 'node:path';
import { Observable, type Subscriber, type Subscription } from 'rxjs';
import type { ConfigProblem, ProbeFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { BpfObjectProbeConfig } from '../schemas/types.generated.js';
import { BpfObject, sumPerCpu } from '../engine/bpf/bpf-object.js';
import type { HistogramSample, Sample, SampleKind } from '../engine/model/sample.js';
import { seriesKey } from '../engine/model/sample.js';
import { parseDuration } from '../engine/util/duration.js';
import type { Logger } from '../engine/util/log.js';
import { BinarySymbols } from './lib/binary-symbols.js';
import { keyBytes, keyDecoder, readUint } from './lib/key-decoders.js';
import { watchTargets, type TargetChange } from './lib/target.js';
import { forEachProcess, guarded } from './lib/guarded.js';
import { BinaryLinks, type AttachedBinary } from './lib/binary-links.js';
import { runProcessProbe } from './lib/process-probe.js';

type Counter = NonNullable<BpfObjectProbeConfig['metrics']['counters']>[number];
type Histogram = NonNullable<BpfObjectProbeConfig['metrics']['histograms']>[number];

export const bpfObjectProbe: ProbeFactory<BpfObjectProbeConfig> = {
  kind: 'probe',
  type: 'bpf_object',
  description: 'Your own compiled .bpf.o, its maps turned into counters/histograms (ebpf_exporter-style metrics config)',
  schema: loadComponentSchema('probe', 'bpf_object'),
  emits(config) {
    const k = new Set<SampleKind>();
    if (config.metrics.counters?.length) k.add('counter');
    if (config.metrics.histograms?.length) k.add('histogram');
    return k;
  },
  check(config) {
    const problems: ConfigProblem[] = [];
    (config.metrics.histograms ?? []).forEach((h, i) => {
      if (h.bucket_type === 'fixed' && !h.bucket_keys) problems.push({ path: ['metrics', 'histograms', i], message: 'bucket_type fixed needs bucket_keys' });
      if (h.bucket_type !== 'fixed' && h.bucket_max === undefined) problems.push({ path: ['metrics', 'histograms', i], message: `bucket_type ${h.bucket_type} needs bucket_max` });
      if (h.bucket_max !== undefined && h.bucket_max < (h.bucket_min ?? 0)) problems.push({ path: ['metrics', 'histograms', i, 'bucket_max'], message: 'must be >= bucket_min' });
    });
    return problems;
  },
  create(config, ctx) {
    const path = isAbsolute(config.object) ? config.object : resolve(ctx.baseDir, config.object);
    const intervalMs = parseDuration(config.interval ?? '5s');
    return {
      samples: () =>
        new Observable<Sample[]>((subscriber) =>
          // Its own maps, its own keys: no processes to track beyond its uprobes' (attachAll).
          runProcessProbe(subscriber, ctx, { intervalMs, rescanMs: intervalMs, labels: [] }, () => {
            const obj = new BpfObject(path);
            const subs: Subscription[] = [];
            try {
              obj.load();
              checkMaps(obj, config);
              attachAll(obj, config, subs, ctx.log, subscriber);
            } catch (e) {
              subs.forEach((s) => s.unsubscribe());
              obj.close();
              throw new Error(`bpf_object ${path}: ${(e as Error).message}`);
            }
            return {
              read: (now) => [...(config.metrics.counters ?? []).flatMap((c) => readCounter(obj, c, now)), ...(config.metrics.histograms ?? []).flatMap((h) => readHistogram(obj, h, now))],
              close() {
                subs.forEach((s) => s.unsubscribe());
                obj.close();
              },
            };
          }),
        ),
    };
  },
};

function checkMaps(obj: BpfObject, config: BpfObjectProbeConfig): void {
  const maps = new Map(obj.maps().map((m) => [m.name, m]));
  for (const metric of [...(config.metrics.counters ?? []), ...(config.metrics.histograms ?? [])]) {
    const name = metric.map ?? metric.name;
    const m = maps.get(name);
    if (!m) throw new Error(`metric ${metric.name}: no map named "${name}"; the object has: ${[...maps.keys()].filter((n) => !n.startsWith('.')).join(', ')}`);
    const want = keyBytes(metric.labels ?? []);
    if (want !== m.keySize && (metric.labels?.length ?? 0) > 0) throw new Error(`metric ${metric.name}: labels cover ${want} key bytes but map "${name}" has ${m.keySize}-byte keys (sizes and padding must add up)`);
  }
}

function attachAll(obj: BpfObject, config: BpfObjectProbeConfig, subs: Subscription[], log: Logger, subscriber: Subscriber<unknown>): void {
  type AttachSpec = NonNullable<BpfObjectProbeConfig['attach']>[number];
  const specs: AttachSpec[] = config.attach ?? obj.programs().map((p) => ({ program: p, auto: true as const }));
  for (const a of specs) {
    if (a.tracepoint) {
      const [cat, ev] = a.tracepoint.split(':') as [string, string];
      obj.attachTracepoint(a.program, cat, ev, 0);
    } else if (a.raw_tracepoint) obj.attachRawTracepoint(a.program, a.raw_tracepoint);
    else if (a.kprobe) obj.attachKprobe(a.program, a.kprobe, 0);
    else if (a.uprobe) {
      const { symbol, target } = a.uprobe;
      // One link per binary while a process runs it; the last one's exit detaches it.
      const binaries = new BinaryLinks<AttachedBinary>((b) => obj.detach(b.links), log, 'bpf_object uprobe', { program: a.program });
      subs.push(
        watchTargets(target, parseDuration(config.rescan ?? '2s'), { log }).subscribe({
          next: guarded(subscriber, ({ added, removed }: TargetChange) => {
            for (const p of removed) binaries.release(p);
            forEachProcess(added, log, (p) => {
              binaries.acquire(p, p.binaryId, () => {
                const f = BinarySymbols.open(`/proc/${p.pid}/exe`).resolve(symbol);
                const link = obj.attachUprobe(a.program, `/proc/${p.pid}/exe`, f.fileOffset + f.attachDelta, -1, 0);
                log.info('bpf_object uprobe attached', { program: a.program, exe: p.exe, symbol });
                return { links: [link] };
              });
            });
          }),
          error: (e) => subscriber.error(e),
        }),
      );
    } else obj.attach(a.program);
  }
}

/** Sums per-CPU values; otherwise the first 8 bytes of the value are the counter. */
function entryValue(m: ReturnType<BpfObject['readMap']>, i: number, perCpu: boolean): number {
  return perCpu ? sumPerCpu(m, i, 0) : Number(readUint(m.values.subarray(i * m.valueStride, i * m.valueStride + Math.min(8, m.valueStride))));
}

function readCounter(obj: BpfObject, c: Counter, timestamp: number): Sample[] {
  const mapName = c.map ?? c.name;
  const perCpu = obj.maps().find((m) => m.name === mapName)!.perCpu;
  const m = obj.readMap(mapName);
  const decode = keyDecoder(c.labels ?? []);
  const out = new Map<string, Sample>();
  for (let i = 0; i < m.count; i++) {
    const key = decode(m.keys.subarray(i * m.keySize, (i + 1) * m.keySize));
    if (!key) continue;
    const value = entryValue(m, i, perCpu);
    // Keys that decode to the same labels (e.g. a dropped field) add up, as in ebpf_exporter.
    const id = seriesKey(c.name, key.labels);
    const prev = out.get(id);
    out.set(id, { kind: 'counter', name: c.name, labels: key.labels, timestamp, value: (prev && prev.kind === 'counter' ? prev.value : 0) + value });
  }
  return [...out.values()];
}

function histogramBounds(h: Histogram): { keys: number[]; bounds: number[] } {
  const mult = h.bucket_multiplier ?? 1;
  if (h.bucket_type === 'fixed') return { keys: h.bucket_keys!, bounds: h.bucket_keys!.map((k) => k * mult) };
  const keys = Array.from({ length: h.bucket_max! - (h.bucket_min ?? 0) + 1 }, (_, i) => (h.bucket_min ?? 0) + i);
  return { keys, bounds: keys.map((k) => (h.bucket_type === 'exp2' ? 2 ** k : k) * mult) };
}

/**
 * One histogram per combination of the non-bucket labels. Keys above the last bound go to
 * +Inf. The map holds no sum: it is estimated from bucket upper bounds (an upper bound of
 * the true sum), as the docs say.
 */
function readHistogram(obj: BpfObject, h: Histogram, timestamp: number): HistogramSample[] {
  const mapName = h.map ?? h.name;
  const perCpu = obj.maps().find((m) => m.name === mapName)!.perCpu;
  const m = obj.readMap(mapName);
  const decode = keyDecoder(h.labels);
  const { keys, bounds } = histogramBounds(h);
  const slot = new Map(keys.map((k, i) => [k, i]));
  const bucketLabel = h.labels[h.labels.length - 1]!.name;
  type Building = Omit<HistogramSample, 'counts' | 'sum' | 'count'> & { counts: number[]; sum: number; count: number };
  const series = new Map<string, Building>();
  for (let i = 0; i < m.count; i++) {
    const key = decode(m.keys.subarray(i * m.keySize, (i + 1) * m.keySize));
    if (!key) continue;
    const bucketKey = Number(key.values[key.values.length - 1]);
    const { [bucketLabel]: _bucket, ...labels } = key.labels;
    const id = seriesKey(h.name, labels);
    let s: Building | undefined = series.get(id);
    if (!s) series.set(id, (s = { kind: 'histogram', name: h.name, labels, timestamp, bounds, counts: new Array<number>(bounds.length + 1).fill(0), sum: 0, count: 0 }));
    const idx = slot.get(bucketKey) ?? (bucketKey < keys[0]! ? 0 : bounds.length);
    const n = entryValue(m, i, perCpu);
    s.counts[idx]! += n;
    s.count += n;
    s.sum += n * (bounds[idx] ?? bounds[bounds.length - 1]!);
  }
  return [...series.values()];
}

import { BpfObject, bundledObjectPath, readU64, sumPerCpu, u32 } from '../../engine/bpf/bpf-object.js';
import type { HistogramSample, Labels, Sample } from '../../engine/model/sample.js';

/** One probe point of bpf/probe_hits.bpf.c; its index is the BPF cookie of its attachments. */
export interface HitPoint {
  name: string;
  /** Register index (see registers.ts) whose value is summed and histogrammed. */
  argRegister?: number;
  events?: boolean;
}

const HIST_SLOTS = 64;
/** Slot i of the in-kernel log2 histogram holds values v with 2^(i-1) <= v < 2^i: le = 2^i - 1. */
export const LOG2_BOUNDS: readonly number[] = Array.from({ length: HIST_SLOTS - 1 }, (_, i) => (i === 0 ? 0 : 2 ** i - 1));
const STATS_COUNT = 0;
const STATS_SUM = 8;
const STATS_HIST = 16;
const EVENT_SIZE = 32;

/**
 * User-space side of probe_hits.bpf.c: loads it once per probe, keeps its pid filter in step
 * with the targeted processes, and turns the per-CPU stats map into samples.
 */
export class HitCounters {
  readonly obj: BpfObject;

  /**
   * With `filterPids`, only pids added with addPid() are counted; without, every process.
   * `attach: 'uprobe'` loads on_hit for uprobe_multi links where the kernel has them.
   */
  constructor(
    private readonly points: HitPoint[],
    filterPids = true,
    attach: 'uprobe' | 'kprobe' = 'kprobe',
  ) {
    this.obj = new BpfObject(bundledObjectPath('probe_hits'));
    try {
      if (attach === 'uprobe') this.obj.preferUprobeMulti('on_hit');
      this.obj.setU32('filter_pids', filterPids ? 1 : 0).load();
      points.forEach((p, i) => {
        const cfg = Buffer.alloc(16);
        cfg.writeUInt32LE(p.argRegister !== undefined ? 1 : 0, 0);
        cfg.writeUInt32LE(p.argRegister ?? 0, 4);
        cfg.writeUInt32LE(p.events ? 1 : 0, 8);
        this.obj.update('points', u32(i), cfg);
      });
    } catch (e) {
      this.obj.close();
      throw e;
    }
  }

  addPid(pid: number): void {
    this.obj.update('target_pids', u32(pid), Buffer.from([1]));
  }

  /** Stops counting a process and forgets its counters (its series end). */
  removePid(pid: number): void {
    this.obj.delete('target_pids', u32(pid));
    this.forgetCounts(pid);
  }

  forgetCounts(pid: number): void {
    this.points.forEach((_, cookie) => {
      const key = Buffer.alloc(8);
      key.writeUInt32LE(cookie, 0);
      key.writeUInt32LE(pid, 4);
      this.obj.delete('hits', key);
    });
  }

  /** Counters (and argument histograms) of every (point, process) seen so far. */
  read(labelsOf: (pid: number) => Labels | undefined, timestamp: number, seenPids?: Set<number>): Sample[] {
    const m = this.obj.readMap('hits');
    const out: Sample[] = [];
    for (let i = 0; i < m.count; i++) {
      const cookie = m.keys.readUInt32LE(i * 8);
      const pid = m.keys.readUInt32LE(i * 8 + 4);
      seenPids?.add(pid);
      const point = this.points[cookie];
      const labels = labelsOf(pid);
      if (!point || !labels) continue;
      const sum = (off: number) => sumPerCpu(m, i, off);
      out.push({ kind: 'counter', name: `${point.name}_total`, labels, timestamp, value: sum(STATS_COUNT) });
      if (point.argRegister !== undefined) {
        out.push({ kind: 'counter', name: `${point.name}_arg_sum`, labels, timestamp, value: sum(STATS_SUM) });
        const counts = Array.from({ length: HIST_SLOTS }, (_, s) => sum(STATS_HIST + s * 8));
        const h: HistogramSample = { kind: 'histogram', name: `${point.name}_arg`, labels, timestamp, bounds: LOG2_BOUNDS, counts, sum: sum(STATS_SUM), count: counts.reduce((a, b) => a + b, 0) };
        out.push(h);
      }
    }
    return out;
  }

  /** Per-hit events of points with `events: true`, one callback per ring-buffer wakeup. */
  openEvents(labelsOf: (pid: number) => Labels | undefined, onBatch: (samples: Sample[]) => void) {
    // Kernel time is monotonic; map it to wall-clock once so event timestamps line up with counters.
    const offsetMs = Date.now() - Number(process.hrtime.bigint() / 1_000_000n);
    return this.obj.openRingBuffer('events', (records) => {
      const batch: Sample[] = [];
      for (const r of records) {
        if (r.length < EVENT_SIZE) continue;
        const point = this.points[r.readUInt32LE(8)];
        const pid = r.readUInt32LE(12);
        const labels = labelsOf(pid);
        if (!point || !labels) continue;
        batch.push({
          kind: 'event',
          name: point.name,
          labels,
          timestamp: Math.floor(readU64(r, 0) / 1e6) + offsetMs,
          value: readU64(r, 24),
          fields: { tid: r.readUInt32LE(16) },
        });
      }
      if (batch.length) onBatch(batch);
    });
  }

  /** Events the kernel could not queue because the ring buffer was full. */
  eventsDropped(): number {
    const m = this.obj.readMap('events_dropped');
    return m.count ? sumPerCpu(m, 0, 0) : 0;
  }

  close(): void {
    this.obj.close();
  }
}

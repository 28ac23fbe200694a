import { Observable } from 'rxjs';
import type { ComponentContext } from '../../engine/components/contracts.js';
import { BpfObject, bundledObjectPath, readU64, u32 } from '../../engine/bpf/bpf-object.js';
import type { Sample } from '../../engine/model/sample.js';
import { cstring } from './elf-file.js';
import type { ScanOptions } from './scan-options.js';
import { runProcessProbe } from './process-probe.js';

export interface TracepointCountersOptions extends ScanOptions {
  /** Metric base names and what to attach, in cookie order. */
  points: { name: string; attach: (obj: BpfObject, cookie: number) => void }[];
  /** Raw tracepoints carry no cookie: one object per point, the id set as a global. */
  objectPerPoint: boolean;
  program: 'on_tracepoint' | 'on_raw_tracepoint';
}

/**
 * Shared by the tracepoint and raw_tracepoint probes: bpf/tracepoint_hits.bpf.c counts hits
 * per (point, process) in the kernel; this reads the counts every interval. With a target,
 * only those processes are counted (in-kernel pid filter); without, every process is.
 */
export function tracepointSamples(opts: TracepointCountersOptions, ctx: ComponentContext): Observable<Sample[]> {
  return new Observable<Sample[]>((subscriber) =>
    runProcessProbe(subscriber, ctx, opts, ({ labelsOf }) => {
      const objects: BpfObject[] = [];
      const closeAll = () => objects.forEach((o) => o.close());
      try {
        const groups = opts.objectPerPoint ? opts.points.map((p, i) => [{ p, i }]) : [opts.points.map((p, i) => ({ p, i }))];
        for (const group of groups) {
          const obj = new BpfObject(bundledObjectPath('tracepoint_hits')).only(opts.program);
          objects.push(obj);
          obj.setU32('filter_pids', opts.target ? 1 : 0);
          if (opts.objectPerPoint) obj.setU32('raw_cookie', group[0]!.i);
          obj.load();
          for (const { p, i } of group) p.attach(obj, i);
        }
      } catch (e) {
        closeAll();
        throw e;
      }
      ctx.log.info('tracepoints attached', { points: opts.points.map((p) => p.name), targeted: Boolean(opts.target) });
      const setPid = (pid: number, on: boolean) => {
        for (const o of objects) (on ? o.update('target_pids', u32(pid), Buffer.from([1])) : o.delete('target_pids', u32(pid)));
      };
      return {
        add: (p) => {
          setPid(p.pid, true);
          return true;
        },
        remove: (ps) => {
          for (const p of ps) {
            setPid(p.pid, false);
            deleteCounts(objects, opts.points.length, p.pid);
          }
        },
        forget: (pid) => deleteCounts(objects, opts.points.length, pid),
        read(now, seen) {
          const batch: Sample[] = [];
          for (const obj of objects) {
            const m = obj.readMap('hits');
            for (let i = 0; i < m.count; i++) {
              const cookie = m.keys.readUInt32LE(i * 8);
              const pid = m.keys.readUInt32LE(i * 8 + 4);
              const point = opts.points[cookie];
              if (!point) continue;
              seen.add(pid);
              const labels = labelsOf(pid, cstring(m.values.subarray(i * m.valueStride + 8, i * m.valueStride + 24), 0));
              if (!labels) continue;
              batch.push({ kind: 'counter', name: `${point.name}_total`, labels, timestamp: now, value: readU64(m.values, i * m.valueStride) });
            }
          }
          return batch;
        },
        close: closeAll,
      };
    }),
  );
}
function deleteCounts(objects: BpfObject[], points: number, pid: number): void {
  for (const o of objects) {
    for (let cookie = 0; cookie < points; cookie++) {
      const key = Buffer.alloc(8);
      key.writeUInt32LE(cookie, 0);
      key.writeUInt32LE(pid, 4);
      o.delete('hits', key);
    }
  }
}

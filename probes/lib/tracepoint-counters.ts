import { Observable } from 'rxjs';
import type { ComponentContext } from '../../engine/components/contracts.js';
import { BpfObject, bundledObjectPath } from '../../engine/bpf/bpf-object.js';
import type { Sample } from '../../engine/model/sample.js';
import { cstring } from './elf-file.js';
import { PidLabels } from './pid-labels.js';
import { ProcessLabeler } from './process-labels.js';
import type { ScanOptions } from './scan-options.js';
import { watchTargets, type TargetChange } from './target.js';
import { forEachProcess, guarded } from './guarded.js';

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
  return new Observable<Sample[]>((subscriber) => {
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

    const targeted = new ProcessLabeler(opts.labels, ctx.pods);
    const wide = new PidLabels(opts.labels, ctx.pods);
    const setPid = (pid: number, on: boolean) => {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(pid);
      for (const o of objects) (on ? o.update('target_pids', key, Buffer.from([1])) : o.delete('target_pids', key));
    };

    const emit = () => {
      const now = Date.now();
      const batch: Sample[] = [];
      const seen = new Set<number>();
      for (const obj of objects) {
        const m = obj.readMap('hits');
        for (let i = 0; i < m.count; i++) {
          const cookie = m.keys.readUInt32LE(i * 8);
          const pid = m.keys.readUInt32LE(i * 8 + 4);
          const point = opts.points[cookie];
          if (!point) continue;
          seen.add(pid);
          const comm = cstring(m.values.subarray(i * m.valueStride + 8, i * m.valueStride + 24), 0);
          const labels = opts.target ? targeted.get(pid) : wide.get(pid, comm);
          if (!labels) continue;
          batch.push({ kind: 'counter', name: `${point.name}_total`, labels, timestamp: now, value: Number(m.values.readBigUInt64LE(i * m.valueStride)) });
        }
      }
      if (batch.length) subscriber.next(batch);
      // Kernel-wide counting: forget processes that exited so maps and series stay bounded.
      if (!opts.target) for (const pid of wide.forgetExited(seen)) deleteCounts(objects, opts.points.length, pid);
    };

    const targets = opts.target
      ? watchTargets(opts.target, opts.rescanMs, { log: ctx.log }).subscribe({
          next: guarded(subscriber, ({ added, removed }: TargetChange) => {
            if (removed.length) emit();
            for (const p of removed) {
              setPid(p.pid, false);
              targeted.delete(p.pid);
              deleteCounts(objects, opts.points.length, p.pid);
            }
            forEachProcess(added, ctx.log, (p) => {
              setPid(p.pid, true);
              targeted.set(p);
              ctx.log.debug('tracking process', { pid: p.pid, exe: p.exe });
            });
          }),
          error: (e) => subscriber.error(e),
        })
      : undefined;
    ctx.log.info('tracepoints attached', { points: opts.points.map((p) => p.name), targeted: Boolean(opts.target) });
    const timer = setInterval(guarded(subscriber, emit), opts.intervalMs);
    return () => {
      clearInterval(timer);
      targets?.unsubscribe();
      closeAll();
    };
  });
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

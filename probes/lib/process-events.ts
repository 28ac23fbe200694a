import { readlinkSync } from 'node:fs';
import { BpfObject, bundledObjectPath, sumPerCpu } from '../../engine/bpf/bpf-object.js';

export type ProcessEventType = 'fork' | 'exec' | 'exit';
export interface ProcessEvent {
  type: ProcessEventType;
  pid: number;
}

const TYPES: Record<number, ProcessEventType> = { 1: 'fork', 2: 'exec', 3: 'exit' };

/** The kernel's PROC_PID_INIT_INO: the host's pid namespace, the one BPF reports pids in. */
const INIT_PID_NS = 'pid:[4026531836]';

export interface ProcessEventSource {
  /** Records the kernel could not queue (ring full): the watcher rescans /proc when this grows. */
  dropped(): number;
  close(): void;
}

/**
 * bpf/process_events.bpf.c: fork, exec and exit of processes (not threads) from raw
 * tracepoints, one callback per ring-buffer wakeup. Throws with the reason when this kernel or
 * agent cannot have them; the caller then discovers by /proc rescans alone.
 */
export function openProcessEvents(onEvents: (events: ProcessEvent[]) => void): ProcessEventSource {
  // BPF sees host pids; /proc of an agent in its own pid namespace shows others.
  let ns = '';
  try {
    ns = readlinkSync('/proc/self/ns/pid');
  } catch {
    // no namespace link (very old kernel): trust /proc
  }
  if (ns && ns !== INIT_PID_NS) throw new Error('the agent is not in the host pid namespace (hostPID: true on the DaemonSet), so kernel pids would not match /proc');
  const obj = new BpfObject(bundledObjectPath('process_events'));
  try {
    obj.load();
    for (const [program, tp] of [
      ['on_fork', 'sched_process_fork'],
      ['on_exec', 'sched_process_exec'],
      ['on_exit', 'sched_process_exit'],
    ] as const)
      obj.attachRawTracepoint(program, tp);
    const ring = obj.openRingBuffer('process_events', (records) => {
      const events: ProcessEvent[] = [];
      for (const r of records) {
        const type = TYPES[r.readUInt32LE(0)];
        if (type) events.push({ type, pid: r.readUInt32LE(4) });
      }
      if (events.length) onEvents(events);
    });
    return {
      dropped: () => {
        const m = obj.readMap('events_dropped');
        return m.count ? sumPerCpu(m, 0, 0) : 0;
      },
      close: () => {
        ring.close();
        obj.close();
      },
    };
  } catch (e) {
    obj.close();
    throw e;
  }
}

import type { PodLookup } from '../../engine/components/contracts.js';
import type { Labels } from '../../engine/model/sample.js';
import { processLabels, type PodKeys, type ProcessLabel } from './process-labels.js';
import { readProcess, readStartTime } from './processes.js';

/**
 * Labels for pids a kernel-wide probe saw (no target list): read from /proc once per process
 * and cached; `forgetExited` drops pids whose process is gone so the cache stays bounded. A
 * pid is a process only with its start time: a reused pid is another process, with its own
 * comm, exe and pod, and is reported as the old one's exit.
 */
export class PidLabels {
  private readonly cache = new Map<number, { labels: Labels; startTime: number | undefined }>();

  constructor(
    private readonly which: readonly ProcessLabel[],
    private readonly pods?: PodLookup,
    private readonly podKeys?: PodKeys,
    private readonly proc = '/proc',
  ) {}

  get(pid: number, comm?: string): Labels {
    let e = this.cache.get(pid);
    if (!e) {
      const p = readProcess(pid, this.proc);
      const labels = p ? processLabels(p, this.which, this.pods, this.podKeys) : processLabels({ pid, comm: comm ?? '', exe: '', binaryId: '', startTime: 0, cgroup: '' }, this.which.filter((k) => k === 'pid' || k === 'comm'));
      e = { labels, startTime: p?.startTime };
      this.cache.set(pid, e);
    }
    return e.labels;
  }

  /** Pids (of those given) whose process exited, or whose pid now belongs to another process. */
  forgetExited(pids: Iterable<number>): number[] {
    const gone: number[] = [];
    for (const pid of pids) {
      const e = this.cache.get(pid);
      const now = readStartTime(pid, this.proc);
      if (now === undefined || (e?.startTime !== undefined && now !== e.startTime)) {
        gone.push(pid);
        this.cache.delete(pid);
      }
    }
    return gone;
  }
}

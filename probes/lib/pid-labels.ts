import { existsSync } from 'node:fs';
import type { PodLookup } from '../../engine/components/contracts.js';
import type { Labels } from '../../engine/model/sample.js';
import { processLabels, type ProcessLabel } from './process-labels.js';
import { readProcess } from './processes.js';

/**
 * Labels for pids a kernel-wide probe saw (no target list): read from /proc once per pid and
 * cached; `forgetExited` drops pids whose process is gone so the cache stays bounded.
 */
export class PidLabels {
  private readonly cache = new Map<number, Labels>();

  constructor(
    private readonly which: readonly ProcessLabel[],
    private readonly pods?: PodLookup,
  ) {}

  get(pid: number, comm?: string): Labels {
    let l = this.cache.get(pid);
    if (!l) {
      const p = readProcess(pid);
      l = p ? processLabels(p, this.which, this.pods) : processLabels({ pid, comm: comm ?? '', exe: '', binaryId: '', startTime: 0, cgroup: '' }, this.which.filter((k) => k === 'pid' || k === 'comm'));
      this.cache.set(pid, l);
    }
    return l;
  }

  /** Pids (of those given) whose process exited. */
  forgetExited(pids: Iterable<number>): number[] {
    const gone: number[] = [];
    for (const pid of pids) {
      if (!existsSync(`/proc/${pid}`)) {
        gone.push(pid);
        this.cache.delete(pid);
      }
    }
    return gone;
  }
}

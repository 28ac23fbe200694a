import type { Logger } from '../../engine/util/log.js';
import { processGone, ProcessExitedError, type ProcessInfo } from './processes.js';

/** What a probe placed in one binary (inode), shared by every process running it. */
export interface AttachedBinary {
  links: number[];
}

/**
 * Per-binary attachments of a uprobe-style probe: attached when the first process running a
 * binary is found, detached when the last one exits. A binary that cannot be probed is not
 * tried again — unless the failure was its process exiting meanwhile, which is not the
 * binary's fault: the next process running it is attached afresh.
 */
export class BinaryLinks<B extends AttachedBinary> {
  private readonly attached = new Map<string, { binary: B; pids: Set<number> }>();
  private readonly skipped = new Set<string>();
  private readonly ofPid = new Map<number, string>();

  constructor(
    private readonly detach: (b: B) => void,
    private readonly log: Logger,
    private readonly what: string,
    private readonly fields: Record<string, unknown> = {},
  ) {}

  /**
   * The binary `p` runs, attached by `attach` if it is new. `attach` returns undefined for a
   * binary this probe does not want (remembered), or throws (remembered, unless `p` exited).
   */
  acquire(p: ProcessInfo, id: string, attach: () => B | undefined): B | undefined {
    let entry = this.attached.get(id);
    if (!entry) {
      if (this.skipped.has(id)) return undefined;
      let b: B | undefined;
      try {
        b = attach();
      } catch (e) {
        if (processGone(p.pid)) throw new ProcessExitedError(p.pid);
        this.skipped.add(id);
        throw e;
      }
      if (b && processGone(p.pid)) {
        this.detach(b);
        throw new ProcessExitedError(p.pid);
      }
      if (!b) {
        // Declined because its process went away half-way (a path under /proc/PID vanished):
        // remembering the binary would skip every later process running it, without a word.
        if (processGone(p.pid)) throw new ProcessExitedError(p.pid);
        this.skipped.add(id);
        return undefined;
      }
      this.attached.set(id, (entry = { binary: b, pids: new Set() }));
    }
    entry.pids.add(p.pid);
    this.ofPid.set(p.pid, id);
    return entry.binary;
  }

  binaryOf(pid: number): B | undefined {
    const id = this.ofPid.get(pid);
    return id === undefined ? undefined : this.attached.get(id)?.binary;
  }

  /** `p` stopped running its binary; the binary's links go with its last process. */
  release(p: ProcessInfo): void {
    const id = this.ofPid.get(p.pid);
    if (id === undefined) return;
    this.ofPid.delete(p.pid);
    const entry = this.attached.get(id);
    if (!entry || !entry.pids.delete(p.pid) || entry.pids.size) return;
    this.attached.delete(id);
    this.detach(entry.binary);
    this.log.info(`${this.what} detached: no process runs this binary any more`, { ...this.fields, exe: p.exe });
  }

  /** Binaries attached now. */
  get size(): number {
    return this.attached.size;
  }
}

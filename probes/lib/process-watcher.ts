import { statSync } from 'node:fs';
import type { Logger } from '../../engine/util/log.js';
import { openProcessEvents, type ProcessEvent, type ProcessEventSource } from './process-events.js';
import { listPids, readProcess, readStartTime, type ProcessInfo } from './processes.js';

/** What a watcher tells its listeners: processes that appeared and processes that ended. */
export interface ProcessChange {
  added: readonly ProcessInfo[];
  removed: readonly ProcessInfo[];
}

export interface WatchListener {
  /** The longest this listener accepts for a missed process to be found; the watcher rescans at the shortest. */
  rescanMs: number;
  onChange(change: ProcessChange): void;
  /** Pids /proc hides from this agent (no CAP_SYS_PTRACE), after each scan that met any. */
  onDenied?(pids: number[]): void;
  log?: Logger;
}

/**
 * A fork is usually followed by an exec within a millisecond: waiting this long reads the
 * process once, as what it became, and a process that ends inside the window is never read.
 * Exits wait as long, so a burst (a pod's processes, a node drain) is one change, one final read.
 */
const SETTLE_MS = 20;
/** With kernel events on, a full /proc rescan only has to catch what they could not say. */
const SAFETY_RESCAN_MS = 30_000;
/**
 * With kernel events on and none lost, a safety rescan lists pids (new ones, gone ones) but
 * re-reads the identity (start time, binary inode) of the processes it knows only this often:
 * an exec or a pid reuse always comes with an event, and a lost event forces a full check at
 * once. Re-reading every known pid was ~3.5 ms of CPU every 30 s with 170 processes.
 */
const IDENTITY_CHECK_MS = 300_000;

/**
 * Every process on the node, once for the whole agent: each probe used to rescan /proc on its
 * own, re-reading every pid. The kernel says when a process forks, execs or exits (raw
 * tracepoints, process-events.ts); /proc is scanned in full at start, and again as a safety
 * net — at each listener's `rescan` when the kernel cannot tell, at least every 30 s and at
 * once after a lost event when it can. A known pid costs one stat and one small read when a scan
 * checks identities (each scan without kernel events; with them, after a loss and every 5 min).
 */
export class ProcessWatcher {
  private static readonly shared = new Map<string, ProcessWatcher>();

  /** The agent's watcher of this /proc (tests use a fake one; kernel events only for /proc). */
  static of(proc = '/proc'): ProcessWatcher {
    let w = ProcessWatcher.shared.get(proc);
    if (!w) ProcessWatcher.shared.set(proc, (w = new ProcessWatcher(proc)));
    return w;
  }

  private readonly known = new Map<number, ProcessInfo>();
  private readonly listeners = new Set<WatchListener>();
  private readonly pending = new Set<number>();
  private readonly exiting = new Set<number>();
  private events?: ProcessEventSource;
  private eventsOff?: string;
  private droppedSeen = 0;
  private lastFullScan = 0;
  private lastIdentityCheck = 0;
  private timer?: NodeJS.Timeout;
  private timerMs = 0;
  private settleTimer?: NodeJS.Timeout;
  private deniedAtLastScan: number[] = [];

  private constructor(private readonly proc: string) {}

  /** Whether fork/exec/exit come from the kernel; otherwise why not. */
  get eventSource(): { on: true } | { on: false; reason: string } {
    return this.events ? { on: true } : { on: false, reason: this.eventsOff ?? 'not started' };
  }

  /** Processes known right now. */
  processes(): IterableIterator<ProcessInfo> {
    return this.known.values();
  }

  /**
   * Starts watching on the first listener (a full scan, before this returns, so the caller can
   * read `processes()` at once), and stops — kernel objects released — after the last leaves.
   */
  subscribe(listener: WatchListener): () => void {
    // The first scan is the listener's starting set (`processes()`), not news to it.
    if (this.listeners.size === 0) this.start(listener.log);
    else if (!this.events && this.eventsOff) listener.log?.info(`process discovery by /proc rescan only: ${this.eventsOff}`);
    if (this.deniedAtLastScan.length) listener.onDenied?.(this.deniedAtLastScan);
    this.listeners.add(listener);
    this.schedule();
    return () => {
      if (!this.listeners.delete(listener)) return;
      if (this.listeners.size === 0) this.stop();
      else this.schedule();
    };
  }

  private start(log?: Logger): void {
    if (this.proc === '/proc' && process.env.PROBEFLOW_PROCESS_EVENTS !== 'off') {
      try {
        this.events = openProcessEvents((events) => this.onEvents(events));
        this.droppedSeen = 0;
      } catch (e) {
        this.eventsOff = `kernel process events unavailable (${(e as Error).message})`;
        log?.info(`process discovery by /proc rescan only: ${this.eventsOff}`);
      }
    } else this.eventsOff = this.proc === '/proc' ? 'PROBEFLOW_PROCESS_EVENTS=off' : `not the host's /proc (${this.proc})`;
    this.scan();
  }

  private stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.settleTimer);
    this.timer = this.settleTimer = undefined;
    this.events?.close();
    this.events = this.eventsOff = undefined;
    this.known.clear();
    this.pending.clear();
    this.exiting.clear();
  }

  /** One timer at the shortest interval any listener asked for. */
  private schedule(): void {
    const ms = Math.min(...[...this.listeners].map((l) => l.rescanMs));
    if (ms === this.timerMs && this.timer) return;
    clearInterval(this.timer);
    this.timerMs = ms;
    this.timer = setInterval(() => this.tick(), ms);
    this.timer.unref();
  }

  private tick(): void {
    if (this.events) {
      const dropped = this.events.dropped();
      const lost = dropped !== this.droppedSeen;
      this.droppedSeen = dropped;
      if (!lost && Date.now() - this.lastFullScan < SAFETY_RESCAN_MS) return;
      return this.scan(lost || Date.now() - this.lastIdentityCheck >= IDENTITY_CHECK_MS);
    }
    this.scan();
  }

  private onEvents(events: ProcessEvent[]): void {
    for (const e of events) {
      if (e.type !== 'exit') {
        this.pending.add(e.pid);
        continue;
      }
      // Started and ended inside one window: never read, never news.
      if (!this.pending.delete(e.pid) || this.known.has(e.pid)) this.exiting.add(e.pid);
    }
    if ((this.pending.size || this.exiting.size) && !this.settleTimer) this.settleTimer = setTimeout(() => this.settle(), SETTLE_MS);
  }

  /** Exits first (a pid may have been reused since), then what forked or exec'd. */
  private settle(): void {
    this.settleTimer = undefined;
    const added: ProcessInfo[] = [];
    const removed: ProcessInfo[] = [];
    const denied: number[] = [];
    for (const pid of this.exiting) {
      const gone = this.known.get(pid);
      if (!gone) continue;
      this.known.delete(pid);
      removed.push(gone);
    }
    this.exiting.clear();
    for (const pid of this.pending) this.look(pid, added, removed, denied);
    this.pending.clear();
    this.publish(added, removed, denied);
  }

  /** A pid's current state against what is known: new, the same, another binary (exec), or another process (reuse). */
  private look(pid: number, added: ProcessInfo[], removed: ProcessInfo[], denied: number[]): void {
    const prev = this.known.get(pid);
    const now = readProcess(pid, this.proc, (p) => void denied.push(p));
    if (now && now.pid === process.pid) return;
    if (prev && now && prev.startTime === now.startTime && prev.binaryId === now.binaryId) return;
    if (prev) {
      this.known.delete(pid);
      removed.push(prev);
    }
    if (now) {
      this.known.set(pid, now);
      added.push(now);
    }
  }

  /** `checkKnown`: whether a known pid's start time and binary are read again (exec, pid reuse). */
  private scan(checkKnown = true): void {
    this.lastFullScan = Date.now();
    if (checkKnown) this.lastIdentityCheck = this.lastFullScan;
    const added: ProcessInfo[] = [];
    const removed: ProcessInfo[] = [];
    const denied: number[] = [];
    const seen = new Set<number>();
    for (const pid of listPids(this.proc)) {
      seen.add(pid);
      const prev = this.known.get(pid);
      if (prev && !checkKnown) continue;
      // Same start time and same binary inode: the same process still running the same program.
      if (prev && readStartTime(pid, this.proc) === prev.startTime && binaryIdOf(pid, this.proc) === prev.binaryId) continue;
      this.look(pid, added, removed, denied);
    }
    for (const [pid, info] of this.known) {
      if (seen.has(pid)) continue;
      this.known.delete(pid);
      removed.push(info);
    }
    this.deniedAtLastScan = denied;
    this.publish(added, removed, denied);
  }

  private publish(added: ProcessInfo[], removed: ProcessInfo[], denied: number[] = []): void {
    for (const l of [...this.listeners]) {
      // One probe's failure is its own (it routes errors into its component): never the others'.
      try {
        if (denied.length) l.onDenied?.(denied);
        if (added.length || removed.length) l.onChange({ added, removed });
      } catch (e) {
        l.log?.error('process watcher listener failed', { error: e });
      }
    }
  }
}

function binaryIdOf(pid: number, proc: string): string | undefined {
  try {
    const st = statSync(`${proc}/${pid}/exe`);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

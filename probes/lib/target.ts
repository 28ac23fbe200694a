import { Observable } from 'rxjs';
import { effectiveCapabilities } from '../../engine/util/capabilities.js';
import { guarded } from './guarded.js';
import type { Logger } from '../../engine/util/log.js';
import { ProcessWatcher, type ProcessChange } from './process-watcher.js';
import type { ProcessInfo } from './processes.js';

/** How a probe's config names its processes; every given condition must hold. */
export interface TargetConfig {
  pid?: number | number[];
  /** Glob on the executable path (`*` within a path segment, `**` across). */
  exe?: string;
  /** Regular expression on the process name (comm, 15 chars), anchored. */
  comm?: string;
  /** Regular expression searched in /proc/PID/cgroup (container id, pod uid, slice). */
  cgroup?: string;
}

/** What a probe's target view reports: the watcher's change, narrowed to the matching processes. */
export type TargetChange = ProcessChange;

export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function targetMatcher(t: TargetConfig): (p: ProcessInfo) => boolean {
  const pids = t.pid === undefined ? undefined : new Set(Array.isArray(t.pid) ? t.pid : [t.pid]);
  const exe = t.exe ? globToRegExp(t.exe) : undefined;
  const comm = t.comm ? new RegExp(`^(?:${t.comm})$`) : undefined;
  const cgroup = t.cgroup ? new RegExp(t.cgroup) : undefined;
  return (p) => (!pids || pids.has(p.pid)) && (!exe || exe.test(p.exe)) && (!comm || comm.test(p.comm)) && (!cgroup || cgroup.test(p.cgroup));
}

/**
 * The set of matching processes over time, from the agent's one ProcessWatcher: the processes
 * running now, then those that start (and match) or exit. A pid reused by a new process, or
 * exec'ing another binary, counts as one exit and one start. `intervalMs` bounds how late a
 * process is found when the kernel cannot report forks and execs (the /proc rescan).
 */
export function watchTargets(target: TargetConfig, intervalMs: number, opts: { proc?: string; log?: Logger } = {}): Observable<TargetChange> {
  const matches = targetMatcher(target);
  return new Observable<TargetChange>((subscriber) => {
    const watcher = ProcessWatcher.of(opts.proc);
    const mine = new Map<number, ProcessInfo>();
    // Some pids stay hidden even from full root (a sandbox's init): only a missing capability is news.
    // Capabilities do not change while the agent runs: look once, not on every scan.
    let toldDenied = effectiveCapabilities().has('CAP_SYS_PTRACE');
    const onChange = guarded(subscriber, ({ added, removed }: ProcessChange) => {
      const gone = removed.filter((p) => mine.get(p.pid) === p);
      for (const p of gone) mine.delete(p.pid);
      const fresh = added.filter(matches);
      for (const p of fresh) mine.set(p.pid, p);
      if (gone.length || fresh.length) subscriber.next({ added: fresh, removed: gone });
    });
    const unsubscribe = watcher.subscribe({
      rescanMs: intervalMs,
      ...(opts.log ? { log: opts.log } : {}),
      onChange,
      onDenied: (pids) => {
        // Without this, a missing capability looks like "no matching process": say it once.
        if (toldDenied) return;
        toldDenied = true;
        const n = pids.length;
        opts.log?.warn(`${n} process${n === 1 ? ' is' : 'es are'} hidden from this agent (permission denied on /proc/PID/exe): grant CAP_SYS_PTRACE to probe processes of other users`, { pids: pids.slice(0, 10) });
      },
    });
    onChange({ added: [...watcher.processes()], removed: [] });
    // A typo in a target looks exactly like a process that has not started yet: say which it may be.
    if (mine.size === 0) {
      const how = watcher.eventSource.on ? 'found when it starts' : `looking again every ${intervalMs} ms`;
      opts.log?.info(`no process matches the target yet; ${how}`, { target });
    }
    return unsubscribe;
  });
}

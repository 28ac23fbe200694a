import { Observable } from 'rxjs';
import { effectiveCapabilities } from '../../engine/util/capabilities.js';
import { guarded } from './guarded.js';
import type { Logger } from '../../engine/util/log.js';
import { listPids, readProcess, readStartTime, type ProcessInfo } from './processes.js';

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

export interface TargetChange {
  added: ProcessInfo[];
  removed: ProcessInfo[];
}

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
 * The set of matching processes over time: an initial scan, then a rescan every
 * `intervalMs` that reports processes that started (and match) or exited. A pid reused by
 * a new process counts as one exit and one start. Polling /proc keeps this working in
 * every container runtime and kernel; the bound on discovery delay is the interval.
 */
export function watchTargets(target: TargetConfig, intervalMs: number, opts: { proc?: string; log?: Logger } = {}): Observable<TargetChange> {
  const proc = opts.proc ?? '/proc';
  const matches = targetMatcher(target);
  // Only pids the config names can match; no need to read every process for them.
  const onlyPids = target.pid === undefined ? undefined : Array.isArray(target.pid) ? target.pid : [target.pid];
  return new Observable<TargetChange>((subscriber) => {
    const known = new Map<number, ProcessInfo>();
    // Some pids stay hidden even from full root (a sandbox's init): only a missing capability is news.
    // Capabilities do not change while the agent runs: look once, not on every scan.
    let toldDenied = effectiveCapabilities().has('CAP_SYS_PTRACE');
    const scan = () => {
      const seen = new Set<number>();
      const denied: number[] = [];
      const onDenied = (pid: number) => void denied.push(pid);
      const added: ProcessInfo[] = [];
      const removed: ProcessInfo[] = [];
      for (const pid of onlyPids ?? listPids(proc)) {
        const prev = known.get(pid);
        if (prev) {
          // One small read says the same process still runs; the five-file read is for a new one.
          if (readStartTime(pid, proc) === prev.startTime) {
            seen.add(pid);
            continue;
          }
          const now = readProcess(pid, proc, onDenied);
          if (now && matches(now)) {
            removed.push(prev);
            added.push(now);
            known.set(pid, now);
            seen.add(pid);
          }
          continue;
        }
        const info = readProcess(pid, proc, onDenied);
        if (info && info.pid !== process.pid && matches(info)) {
          known.set(pid, info);
          added.push(info);
          seen.add(pid);
        }
      }
      for (const [pid, info] of known) {
        if (!seen.has(pid)) {
          known.delete(pid);
          removed.push(info);
        }
      }
      // Without this, a missing capability looks like "no matching process": say it once.
      if (denied.length && !toldDenied) {
        const n = denied.length;
        opts.log?.warn(`${n} process${n === 1 ? ' is' : 'es are'} hidden from this agent (permission denied on /proc/PID/exe): grant CAP_SYS_PTRACE to probe processes of other users`, { pids: denied.slice(0, 10) });
        toldDenied = true;
      }
      if (added.length || removed.length) subscriber.next({ added, removed });
    };
    scan();
    // A typo in a target looks exactly like a process that has not started yet: say which it may be.
    if (known.size === 0) opts.log?.info(`no process matches the target yet; looking again every ${intervalMs} ms`, { target });
    const timer = setInterval(guarded(subscriber, scan), intervalMs);
    return () => clearInterval(timer);
  });
}

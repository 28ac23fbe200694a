import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';

/** What probes know about a process: enough to attach, label its series and notice pid reuse. */
export interface ProcessInfo {
  pid: number;
  comm: string;
  /** Resolved path of the executable as the process sees it (may be inside a container). */
  exe: string;
  /** Identity of the executable file: uprobes attach to an inode, not a path. */
  binaryId: string;
  /** Start time in clock ticks since boot: a pid with another start time is another process. */
  startTime: number;
  cgroup: string;
  containerId?: string;
}

/**
 * /proc/PID/… for one pid, or undefined if it exited meanwhile or is a kernel thread.
 * `onDenied` hears of processes the agent may not inspect (another user's, without CAP_SYS_PTRACE).
 */
export function readProcess(pid: number, proc = '/proc', onDenied?: (pid: number) => void): ProcessInfo | undefined {
  try {
    const exe = readlinkSync(`${proc}/${pid}/exe`);
    const st = statSync(`${proc}/${pid}/exe`);
    const startTime = readStartTime(pid, proc);
    if (startTime === undefined) return undefined;
    const comm = readFileSync(`${proc}/${pid}/comm`, 'utf8').trimEnd();
    const cgroup = readFileSync(`${proc}/${pid}/cgroup`, 'utf8').trim();
    const containerId = containerIdOf(cgroup);
    return {
      pid,
      comm,
      exe: exe.replace(/ \(deleted\)$/, ''),
      binaryId: `${st.dev}:${st.ino}`,
      startTime,
      cgroup,
      ...(containerId ? { containerId } : {}),
    };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') onDenied?.(pid);
    return undefined;
  }
}

/** A process's start time (clock ticks since boot), or undefined if it is gone: with the pid, its identity. */
export function readStartTime(pid: number, proc = '/proc'): number | undefined {
  try {
    const stat = readFileSync(`${proc}/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
}

/** A process exited between being found and being attached: nothing to warn about, nor to remember. */
export class ProcessExitedError extends Error {
  constructor(readonly pid: number) {
    super(`process ${pid} exited while being attached`);
  }
}

/**
 * Whether a failure reading a process's binary was the process going away: then the binary is
 * not to blame, and the next process running it must still be probed.
 */
export function processGone(pid: number, proc = '/proc'): boolean {
  return !existsSync(`${proc}/${pid}/exe`);
}

export function listPids(proc = '/proc'): number[] {
  return readdirSync(proc)
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/**
 * Container id from a cgroup path, for the runtimes CCE nodes use: containerd
 * (cri-containerd-<id>.scope, /kubepods/…/<id>), docker (docker-<id>.scope) and cri-o
 * (crio-<id>.scope).
 */
export function containerIdOf(cgroup: string): string | undefined {
  const m = /(?:cri-containerd-|docker-|crio-|libpod-)?([0-9a-f]{64})(?:\.scope)?(?:\/|$)/m.exec(cgroup);
  return m?.[1];
}

/** Kubernetes pod uid from the cgroup path (kubepods-…-pod<uid>.slice or /kubepods/…/pod<uid>/). */
export function podUidOf(cgroup: string): string | undefined {
  const m = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})/.exec(cgroup);
  return m?.[1]?.replace(/_/g, '-');
}

import { execFileSync } from 'node:child_process';
import { release } from 'node:os';

const PROBE_PROGRAMS = ['on_hit', 'on_tracepoint', 'on_raw_tracepoint', 'on_go'];
// The agent's process watcher (process_events.bpf.c): loaded while any probe watches processes.
const WATCHER_PROGRAMS = ['on_fork', 'on_exec', 'on_exit'];

/**
 * probeflow's BPF programs and links currently in the kernel (bpftool's view): all of them,
 * or only the probes' (while a probe runs, the process watcher's three links are there too).
 */
export function ourKernelObjects(which: 'all' | 'probes' = 'all'): { programs: number; links: number } {
  const names = new Set(which === 'all' ? [...PROBE_PROGRAMS, ...WATCHER_PROGRAMS] : PROBE_PROGRAMS);
  const ours = bpftool<{ id: number; name?: string }>('prog').filter((p) => p.name && names.has(p.name));
  if (process.env.PROBEFLOW_DEBUG_OBJECTS && ours.length) console.error('our programs still loaded:', ours);
  return { programs: ours.length, links: attachments(new Set(ours.map((p) => p.id))) };
}

/** Attachments of one program by name: links, and before 5.15 the perf events it is attached to. */
export function attachmentsOf(program: string): number {
  return attachments(new Set(bpftool<{ id: number; name?: string }>('prog').filter((p) => p.name === program).map((p) => p.id)));
}

function bpftool<T>(what: 'prog' | 'link' | 'perf'): T[] {
  return JSON.parse(execFileSync('bpftool', ['-j', what, 'show'], { encoding: 'utf8' }) || '[]') as T[];
}

/** Links to these programs, plus (before 5.15) the perf events they are attached to. */
function attachments(ids: Set<number>): number {
  return bpftool<{ prog_id: number }>('link').filter((l) => ids.has(l.prog_id)).length + perfAttachments(ids);
}

const [major = 0, minor = 0] = release().split(/[.-]/).map(Number);
/** From 5.15 a uprobe, kprobe or tracepoint attachment is a BPF link; before, a bare perf event. */
const perfEventsAreLinks = major > 5 || (major === 5 && minor >= 15);

/**
 * Before 5.15, the perf events our programs are attached to, as `bpftool perf` finds them
 * (BPF_TASK_FD_QUERY, 4.18+): counted as links, so a test asks the same question everywhere.
 * Raw tracepoints are links already (5.7+) and are not counted twice.
 */
function perfAttachments(ids: Set<number>): number {
  if (perfEventsAreLinks) return 0;
  return bpftool<{ prog_id: number; fd_type: string }>('perf').filter((e) => ids.has(e.prog_id) && e.fd_type !== 'raw_tracepoint').length;
}

/**
 * Waits for the kernel to free our programs and links, then returns what is left. Freeing is
 * asynchronous: a raw tracepoint's program outlives its closed fds by an RCU grace period
 * (~25 ms measured here), so an immediate look would report objects that are already released.
 * A real leak stays and is returned after the wait.
 */
export async function settledKernelObjects(timeoutMs = 3000, which: 'all' | 'probes' = 'all'): Promise<{ programs: number; links: number }> {
  const end = Date.now() + timeoutMs;
  let now = ourKernelObjects(which);
  while ((now.programs || now.links) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
    now = ourKernelObjects(which);
  }
  return now;
}

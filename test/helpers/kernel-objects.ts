import { execFileSync } from 'node:child_process';

// on_fork/on_exec/on_exit: the agent's process watcher (process_events.bpf.c); on_go: go_runtime.
const OUR_PROGRAMS = new Set(['on_hit', 'on_tracepoint', 'on_raw_tracepoint', 'on_go', 'on_fork', 'on_exec', 'on_exit']);

/** probeflow's BPF programs and links currently in the kernel (bpftool's view). */
export function ourKernelObjects(): { programs: number; links: number } {
  const progs = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' }) || '[]') as { id: number; name?: string }[];
  const ours = progs.filter((p) => p.name && OUR_PROGRAMS.has(p.name));
  const ids = new Set(ours.map((p) => p.id));
  const links = JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' }) || '[]') as { prog_id: number }[];
  if (process.env.PROBEFLOW_DEBUG_OBJECTS && ours.length) console.error('our programs still loaded:', ours);
  return { programs: ours.length, links: links.filter((l) => ids.has(l.prog_id)).length };
}

/**
 * Waits for the kernel to free our programs and links, then returns what is left. Freeing is
 * asynchronous: a raw tracepoint's program outlives its closed fds by an RCU grace period
 * (~25 ms measured here), so an immediate look would report objects that are already released.
 * A real leak stays and is returned after the wait.
 */
export async function settledKernelObjects(timeoutMs = 3000): Promise<{ programs: number; links: number }> {
  const end = Date.now() + timeoutMs;
  let now = ourKernelObjects();
  while ((now.programs || now.links) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
    now = ourKernelObjects();
  }
  return now;
}

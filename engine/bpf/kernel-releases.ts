import type { Logger } from '../util/log.js';
import { untilDeadline } from '../util/deadline.js';

/**
 * BPF links being closed off the main thread (see LinkCloser in native/probeflow_bpf.cc). A
 * process that exits with links still open makes the kernel close them one by one in its exit
 * path, ~0.1 s each, so shutdown waits for these — within its deadline — before exiting.
 */
const pending = new Set<Promise<unknown>>();
let log: Logger | undefined;
let closedTotal = 0;

export function setKernelReleaseLogger(l: Logger): void {
  log = l;
}

export function trackRelease(release: Promise<number>, what: string): void {
  const p = release.then(
    (n) => void (closedTotal += n),
    (e: unknown) => log?.warn('releasing BPF links failed; the kernel frees them when the agent exits', { what, error: (e as Error).message }),
  );
  pending.add(p);
  void p.finally(() => pending.delete(p));
}

/** True once every release started so far has finished, false if `deadline` came first. */
export async function releasesSettled(deadline: number): Promise<boolean> {
  while (pending.size) {
    if (!(await untilDeadline(Promise.all([...pending]), deadline))) return false;
  }
  return true;
}

export function releasesInFlight(): number {
  return pending.size;
}

/** Links closed since start: what a test checks a release really closed. */
export function linksReleased(): number {
  return closedTotal;
}

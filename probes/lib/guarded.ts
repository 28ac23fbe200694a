import type { Subscriber } from 'rxjs';
import { MapFullError } from '../../engine/bpf/bpf-object.js';
import type { Logger } from '../../engine/util/log.js';
import { ProcessExitedError, type ProcessInfo } from './processes.js';

/**
 * A probe's timers and target handlers run outside the subscribe call, where RxJS cannot
 * catch: a throw there is an uncaught exception that ends the agent. Wrapped, it becomes the
 * probe's own error — the engine marks that probe down with the reason and everything else
 * keeps running.
 */
export function guarded<A extends unknown[]>(subscriber: Subscriber<unknown>, fn: (...args: A) => void): (...args: A) => void {
  return (...args) => {
    if (subscriber.closed) return;
    try {
      fn(...args);
    } catch (e) {
      subscriber.error(e);
    }
  };
}

/**
 * Per-process work (attach, add to a pid filter, read /proc): a process that fails — it exited
 * between discovery and attach, a map is full — is skipped with a warning that says what to do,
 * and the others go on. `hint` turns a full map into the option that sizes it.
 */
export function forEachProcess(processes: readonly ProcessInfo[], log: Logger, fn: (p: ProcessInfo) => void, hint?: (e: MapFullError) => string): void {
  for (const p of processes) {
    try {
      fn(p);
    } catch (e) {
      if (e instanceof ProcessExitedError) {
        log.debug(e.message, { pid: p.pid, exe: p.exe });
      } else if (e instanceof MapFullError) {
        log.warn(`${e.message}: process not probed${hint ? `; ${hint(e)}` : ''}`, { pid: p.pid, exe: p.exe, map: e.map, max_entries: e.maxEntries });
      } else {
        log.warn('process not probed: attaching it failed; the others go on', { pid: p.pid, exe: p.exe, error: (e as Error).message });
      }
    }
  }
}

/**
 * Go's waitReason numbering (runtime2.go), by version. Labels use the strings Go itself
 * prints in tracebacks ("chan receive", "select", "sync.Mutex.Lock", "sleep", "IO wait" …).
 */
const BASE = [
  '', 'GC assist marking', 'IO wait', 'chan receive (nil chan)', 'chan send (nil chan)', 'dumping heap', 'garbage collection',
  'garbage collection scan', 'panicwait', 'select', 'select (no cases)', 'GC assist wait', 'GC sweep wait', 'GC scavenge wait',
  'chan receive', 'chan send', 'finalizer wait', 'force gc (idle)', 'semacquire', 'sleep', 'sync.Cond.Wait',
];
const V17 = [...BASE, 'timer goroutine (idle)', 'trace reader (blocked)', 'wait for GC cycle', 'GC worker (idle)', 'preempted', 'debug call'];
const V20 = [...BASE, 'sync.Mutex.Lock', 'sync.RWMutex.RLock', 'sync.RWMutex.Lock', 'trace reader (blocked)', 'wait for GC cycle', 'GC worker (idle)', 'GC worker (active)', 'preempted', 'debug call', 'GC mark termination', 'stopping the world'];
const V22 = [...V20, 'flushing proc caches', 'trace goroutine status', 'trace proc status', 'page trace flush', 'coroutine'];
const V23 = [...V22, 'GC weak to strong wait'];
// 1.24 inserts "sync.WaitGroup.Wait" after sync.RWMutex.Lock and appends the synctest reasons.
const V24 = [...V23.slice(0, 24), 'sync.WaitGroup.Wait', ...V23.slice(24), 'synctest.Run', 'synctest.Wait', 'chan receive (synctest)', 'chan send (synctest)', 'select (synctest)'];

export function waitReasonNames(minor: number): readonly string[] {
  if (minor >= 24) return V24;
  if (minor >= 23) return V23;
  if (minor >= 22) return V22;
  if (minor >= 20) return V20;
  return V17;
}

export function waitReasonName(minor: number, reason: number): string {
  return waitReasonNames(minor)[reason] || (reason === 0 ? 'unknown' : `reason ${reason}`);
}

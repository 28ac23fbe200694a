import type { Sample } from '../../engine/model/sample.js';

/**
 * Per-series "last timestamp" bookkeeping shared by stateful stages: rejects samples that go
 * back in time and forgets series that stopped reporting (a process exited) so state stays
 * bounded. Time is the samples' own, which keeps stages deterministic under test.
 */
export class SeriesClock<S> {
  private readonly state = new Map<string, { ts: number; value: S }>();
  private lastSweep = -Infinity;

  constructor(private readonly staleAfterMs: number) {}

  get(key: string): { ts: number; value: S } | undefined {
    return this.state.get(key);
  }

  /** False when `s` is not newer than the last accepted sample of its series. */
  inOrder(key: string, s: Sample): boolean {
    const prev = this.state.get(key);
    return !prev || s.timestamp > prev.ts;
  }

  set(key: string, ts: number, value: S): void {
    this.state.set(key, { ts, value });
  }

  delete(key: string): void {
    this.state.delete(key);
  }

  get size(): number {
    return this.state.size;
  }

  /** Drops series idle for longer than staleAfter; cheap because it runs at most once per that period. */
  sweep(now: number, onExpire?: (key: string, value: S) => void): void {
    if (now - this.lastSweep < this.staleAfterMs) return;
    this.lastSweep = now;
    for (const [k, v] of this.state) {
      if (now - v.ts > this.staleAfterMs) {
        this.state.delete(k);
        onExpire?.(k, v.value);
      }
    }
  }
}

export function maxTimestamp(batch: readonly Sample[]): number {
  let m = -Infinity;
  for (const s of batch) if (s.timestamp > m) m = s.timestamp;
  return m;
}

/** A rate of `x_total` is `x<suffix>` (Prometheus naming: `_total` marks only counters). */
export function rateName(counterName: string, suffix: string): string {
  return counterName.replace(/_total$/, '') + suffix;
}

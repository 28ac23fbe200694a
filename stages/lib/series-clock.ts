import type { Sample } from '../../engine/model/sample.js';

/**
 * Per-series "last timestamp" bookkeeping shared by stateful stages: rejects samples that go
 * back in time and forgets series that stopped reporting (a process exited) so state stays
 * bounded. Time is the samples' own, which keeps stages deterministic under test.
 */
export interface ClockEntry<S> {
  ts: number;
  value: S;
}

export class SeriesClock<S> {
  private readonly state = new Map<string, ClockEntry<S>>();
  private lastSweep = -Infinity;

  constructor(private readonly staleAfterMs: number) {}

  get(key: string): Readonly<ClockEntry<S>> | undefined {
    return this.state.get(key);
  }

  /** False when `s` is not newer than the last accepted sample of its series. */
  inOrder(key: string, s: Sample): boolean {
    return isNewer(this.state.get(key), s);
  }

  /**
   * Records a series' state. `known` is what get() returned for it, so the common step of a
   * stage — get, check, set — costs one Map lookup per sample and no new entry object.
   */
  set(key: string, ts: number, value: S, known?: Readonly<ClockEntry<S>>): void {
    const entry = (known as ClockEntry<S> | undefined) ?? this.state.get(key);
    if (entry) {
      entry.ts = ts;
      entry.value = value;
    } else this.state.set(key, { ts, value });
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

/** False when `s` is not newer than `prev` (what SeriesClock.get returned for its series). */
export function isNewer(prev: { readonly ts: number } | undefined, s: Sample): boolean {
  return !prev || s.timestamp > prev.ts;
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

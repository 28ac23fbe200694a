import type { HistogramSample } from '../../engine/model/sample.js';

export function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** A cumulative snapshot whose count or any bucket went down came from a restarted source. */
export function histogramRestarted(prev: HistogramSample, cur: HistogramSample): boolean {
  return cur.count < prev.count || cur.counts.some((c, i) => c < (prev.counts[i] ?? 0));
}

/**
 * Observations between two cumulative snapshots. After a restart (histogramRestarted) the
 * whole new snapshot is the increase. Different bounds cannot be subtracted: undefined (the
 * caller re-baselines).
 */
export function histogramDelta(prev: HistogramSample, cur: HistogramSample): HistogramSample | undefined {
  if (!sameBounds(prev.bounds, cur.bounds)) return undefined;
  if (histogramRestarted(prev, cur)) return cur;
  return {
    ...cur,
    counts: cur.counts.map((c, i) => c - (prev.counts[i] ?? 0)),
    sum: cur.sum - prev.sum,
    count: cur.count - prev.count,
  };
}

/** Index of the bucket an observation falls into: the first bound >= v, else +Inf. */
export function bucketIndex(bounds: readonly number[], v: number): number {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v <= bounds[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Moves counts into other bounds. A source bucket (l, u] goes whole into the target bucket
 * containing u: an observation ≤ u is then still ≤ that bucket's bound, so `le` queries
 * never under-count; they over-count only where the bounds do not line up.
 */
export function rebucket(h: HistogramSample, bounds: readonly number[]): HistogramSample {
  if (sameBounds(h.bounds, bounds)) return h;
  const counts = new Array<number>(bounds.length + 1).fill(0);
  h.counts.forEach((c, i) => {
    const upper = i < h.bounds.length ? h.bounds[i]! : Infinity;
    counts[bucketIndex(bounds, upper)]! += c;
  });
  return { ...h, bounds, counts };
}

export function mergeHistograms(a: HistogramSample, b: HistogramSample): HistogramSample | undefined {
  if (!sameBounds(a.bounds, b.bounds)) return undefined;
  return { ...a, counts: a.counts.map((c, i) => c + (b.counts[i] ?? 0)), sum: a.sum + b.sum, count: a.count + b.count };
}

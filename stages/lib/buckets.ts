import type { HistogramStageConfig } from '../../schemas/types.generated.js';

export type BucketsConfig = HistogramStageConfig['buckets'];

/** Upper bounds from a bucket spec, as Prometheus client libraries define linear/exponential buckets. */
export function bucketBounds(b: BucketsConfig): number[] {
  if (b.explicit) return [...b.explicit];
  if (b.linear) return Array.from({ length: b.linear.count }, (_, i) => b.linear!.start + i * b.linear!.width);
  if (b.exponential) return Array.from({ length: b.exponential.count }, (_, i) => b.exponential!.start * b.exponential!.factor ** i);
  return [];
}

export function boundsProblem(b: BucketsConfig): { path: string[]; message: string } | undefined {
  if (!b.explicit) return undefined;
  for (let i = 1; i < b.explicit.length; i++) {
    if (!(b.explicit[i]! > b.explicit[i - 1]!)) {
      return { path: ['buckets', 'explicit'], message: `bounds must be strictly increasing: ${b.explicit[i - 1]} is followed by ${b.explicit[i]}` };
    }
  }
  return undefined;
}

import type { SampleKind } from './sample.js';

/** A set of sample kinds, used by the graph builder to check what a sink is fed. */
export type KindSet = ReadonlySet<SampleKind>;

export function kinds(...k: SampleKind[]): KindSet {
  return new Set(k);
}

export function formatKinds(k: KindSet): string {
  return [...k].sort().join(', ') || '(nothing)';
}

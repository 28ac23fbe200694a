import type { Labels, Sample } from './sample.js';

/** What a consumer found for each sample of one batch length, by position. */
export interface PositionTable<T> {
  names: string[];
  labels: Labels[];
  kinds: string[];
  found: (T | undefined)[];
  /** The consumer's generation the table holds for; -1: stale. */
  generation: number;
  /** The generation when the current batch began. */
  began: number;
}

/**
 * What a consumer (the series limit, a sink's store) found for each sample, remembered by the
 * sample's position in its batch. A probe hands out every read in the same order, with the
 * same name and labels objects, so sample i of this read is the series sample i was last
 * time: confirmed by identity, it costs two comparisons instead of hashing a series key into
 * a map or two (with 100 Go processes, ~6k samples a read, each through both consumers).
 * A consumer that forgets a series calls forget(): every remembered position is stale then,
 * one remembered in the batch going on too.
 */
export class BatchPositions<T> {
  private readonly tables = new Map<number, PositionTable<T>>();
  private generation = 0;

  /** The table for a batch of `n` samples (the interval's read, the small reads of new processes). */
  begin(n: number): PositionTable<T> {
    let t = this.tables.get(n);
    if (!t) {
      if (this.tables.size >= 4) this.tables.clear();
      this.tables.set(n, (t = { names: new Array(n), labels: new Array(n), kinds: new Array(n), found: new Array(n), generation: -1, began: this.generation }));
    }
    t.began = this.generation;
    return t;
  }

  /** What sample `s` at position `i` found last time, if it is the same series and nothing was forgotten since. */
  at(t: PositionTable<T>, i: number, s: Sample): T | undefined {
    return t.generation === this.generation && t.labels[i] === s.labels && t.names[i] === s.name && t.kinds[i] === s.kind ? t.found[i] : undefined;
  }

  remember(t: PositionTable<T>, i: number, s: Sample, found: T | undefined): void {
    t.names[i] = s.name;
    t.labels[i] = s.labels;
    t.kinds[i] = s.kind;
    t.found[i] = found;
  }

  /** The batch is through: its table holds for the next one unless something was forgotten meanwhile. */
  end(t: PositionTable<T>): void {
    t.generation = this.generation === t.began ? this.generation : -1;
  }

  forget(): void {
    this.generation++;
  }
}

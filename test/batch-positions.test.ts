import { describe, expect, it } from 'vitest';
import { BatchPositions } from '../engine/model/batch-positions.js';
import { counter, gauge } from './helpers/samples.js';

describe('BatchPositions: what a consumer found for a sample, by its place in the batch', () => {
  const p1 = { pid: '1' };
  const p2 = { pid: '2' };

  it('finds position i again when sample i is the same series (same name and labels objects, same kind), and nothing else', () => {
    const positions = new BatchPositions<string>();
    const batch = [gauge('a', 1, 0, p1), counter('b_total', 2, 0, p1)];
    let t = positions.begin(batch.length);
    expect(positions.at(t, 0, batch[0]!)).toBeUndefined();
    positions.remember(t, 0, batch[0]!, 'A');
    positions.remember(t, 1, batch[1]!, 'B');
    positions.end(t);

    t = positions.begin(2);
    expect(positions.at(t, 0, gauge('a', 5, 10, p1))).toBe('A');
    expect(positions.at(t, 1, counter('b_total', 6, 10, p1))).toBe('B');
    // Equal labels in another object, another name, another kind, another place: not confirmed.
    expect(positions.at(t, 0, gauge('a', 5, 10, { pid: '1' }))).toBeUndefined();
    expect(positions.at(t, 0, gauge('b', 5, 10, p1))).toBeUndefined();
    expect(positions.at(t, 0, counter('a', 5, 10, p1))).toBeUndefined();
    expect(positions.at(t, 1, gauge('a', 5, 10, p1))).toBeUndefined();
    // A batch of another length has a table of its own.
    expect(positions.at(positions.begin(3), 0, gauge('a', 5, 10, p1))).toBeUndefined();
  });

  it('forgets every position when the consumer forgets a series, positions remembered in the same batch too', () => {
    const positions = new BatchPositions<string>();
    const batch = [gauge('a', 1, 0, p1), gauge('a', 1, 0, p2)];
    let t = positions.begin(2);
    batch.forEach((s, i) => positions.remember(t, i, s, `found ${i}`));
    positions.end(t);
    t = positions.begin(2);
    expect(positions.at(t, 0, batch[0]!)).toBe('found 0');
    positions.forget();
    expect(positions.at(t, 1, batch[1]!)).toBeUndefined();
    positions.end(t);
    // Position 0 was confirmed before the forget, so the table is not trusted next time either.
    t = positions.begin(2);
    expect(positions.at(t, 0, batch[0]!)).toBeUndefined();
    batch.forEach((s, i) => positions.remember(t, i, s, `again ${i}`));
    positions.end(t);
    t = positions.begin(2);
    expect(positions.at(t, 1, batch[1]!)).toBe('again 1');
  });
});

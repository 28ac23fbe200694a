import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MemoryRanges, ProcessMemory } from '../probes/lib/go/process-memory.js';

describe('ProcessMemory.readRanges', () => {
  it('reads ranges in any order, near (one span) or far apart, as reading each on its own does, and counts up to the first unmapped one', () => {
    // This process's own node binary: read-only, file-backed, the same bytes at every read.
    const [first] = readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes(process.execPath) || l.endsWith('/node'));
    const [start, end] = first!.split(' ')[0]!.split('-').map((h) => parseInt(h, 16)) as [number, number];
    const size = Math.min(end - start, 64 * 1024);
    const mem = new ProcessMemory(process.pid, 0n);
    let seed = 11;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    try {
      for (let round = 0; round < 300; round++) {
        const r = new MemoryRanges();
        const wanted: { address: number; length: number; at: number }[] = [];
        // Near neighbours (a span), overlaps, far ones; now and then one in no mapping at all.
        const unmapped = rand(4) === 0 ? rand(8) : -1;
        const n = 1 + rand(10);
        for (let i = 0; i < n; i++) {
          const address = i === unmapped ? 0x1000 + rand(64) : start + rand(size - 700);
          const length = rand(5) === 0 ? 0 : 1 + rand(600);
          wanted.push({ address, length, at: r.add(address, length) });
        }
        // The first range that cannot be read ends the count: the error names it.
        const bad = wanted.findIndex((w) => w.length > 0 && w.address < start);
        if (bad < 0) mem.readRanges(r);
        else expect(() => mem.readRanges(r), `round ${round}`).toThrow(`at 0x${wanted[bad]!.address.toString(16)}`);
        for (const w of wanted.slice(0, bad < 0 ? n : bad)) {
          if (w.length === 0) continue;
          expect(Buffer.from(r.out.subarray(w.at, w.at + w.length)).equals(mem.readAt(BigInt(w.address), w.length)), `round ${round}, range at 0x${w.address.toString(16)}`).toBe(true);
        }
      }
    } finally {
      mem.close();
    }
  });
});

import { CLASS_TO_SIZE, MEMSTATS } from './offsets.js';
import type { ProcessMemory } from './process-memory.js';

/** What the runtime has counted since the process started, read once when the probe attaches. */
export interface RuntimeTotals {
  /** memstats.numgc: /gc/cycles/total:gc-cycles. */
  gcCycles: number;
  /** Σ largeAlloc + smallAllocCount × class size: /gc/heap/allocs:bytes. */
  allocBytes: number;
  /** Σ largeAllocCount + smallAllocCount: /gc/heap/allocs:objects. */
  allocObjects: number;
  /** memstats.pause_total_ns: GC stop-the-world time since the start (MemStats.PauseTotalNs). */
  gcPauseSeconds: number;
}

/**
 * The runtime's own totals, as runtime/metrics computes them: the sum of memstats.heapStats'
 * three generations (writers add to one, a reader folds one into another; nothing is ever
 * subtracted) and memstats.numgc. Counters seeded with them report absolute values, equal to
 * the process's own, instead of counting from when the probe attached. Throws when the memory
 * does not look like memstats (wrong address on a stripped binary): the caller then counts
 * from attach and says so.
 */
export function readRuntimeTotals(mem: ProcessMemory, memstats: bigint): RuntimeTotals {
  const m = mem.read(memstats, MEMSTATS.enablegc + 1);
  if (m[MEMSTATS.enablegc] !== 1) throw new Error(`memstats.enablegc is ${m[MEMSTATS.enablegc]}, not true: not runtime.memstats`);
  const gcCycles = m.readUInt32LE(MEMSTATS.numgc);
  let bytes = 0;
  let objects = 0;
  for (let gen = 0; gen < MEMSTATS.heapStatsGenerations; gen++) {
    const d = MEMSTATS.heapStats + gen * MEMSTATS.deltaSize;
    const large = Number(m.readBigUInt64LE(d + MEMSTATS.largeAlloc));
    if (large % 8192 !== 0) throw new Error(`heapStats.largeAlloc ${large} is not whole pages: not runtime.memstats`);
    bytes += large;
    objects += Number(m.readBigUInt64LE(d + MEMSTATS.largeAllocCount));
    for (let c = 1; c < CLASS_TO_SIZE.length; c++) {
      const n = Number(m.readBigUInt64LE(d + MEMSTATS.smallAllocCount + c * 8));
      bytes += n * CLASS_TO_SIZE[c]!;
      objects += n;
    }
  }
  if (!(bytes > 0) || bytes > 2 ** 62) throw new Error(`heap allocation total ${bytes} is implausible: not runtime.memstats`);
  return { gcCycles, allocBytes: bytes, allocObjects: objects, gcPauseSeconds: Number(m.readBigUInt64LE(MEMSTATS.pauseTotalNs)) / 1e9 };
}

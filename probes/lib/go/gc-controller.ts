import type { GcControllerOffsets } from './offsets.js';
import type { ProcessMemory } from './process-memory.js';

/** The GC pacer's settings and goals, as runtime/metrics reports them. */
export interface GcControllerState {
  /** GOGC (-1: off): /gc/gogc:percent. */
  gogcPercent: number;
  /** GOMEMLIMIT in bytes (math.MaxInt64 when unset): /gc/gomemlimit:bytes. */
  memoryLimitBytes: number;
  /**
   * The heap size the next GC aims to finish at: /gc/heap/goal:bytes as heapGoalInternal
   * computes it outside the memory-limit regime (GOGC goal, raised to the sweep-distance
   * trigger and 64 KiB past the trigger point). When the memory limit binds, Go's goal is lower
   * than this; it needs runtime state beyond the pacer (mapped, released, free bytes).
   */
  heapGoalBytes: number;
  /** Heap marked live by the last GC: /gc/heap/live:bytes (gcController.heapMarked). */
  heapLiveBytes: number;
}

const MAX_INT64 = 2n ** 63n - 1n;
const NO_TRIGGER = 2n ** 64n - 1n;
const MIN_RUNWAY = 64n << 10n;

/**
 * Reads runtime.gcController. Throws when the memory does not hold it (a wrong address on a
 * stripped binary): GOGC in range, a non-negative limit, and heapMinimum as setGCPercent sets
 * it from GOGC (4 MiB × GOGC / 100; 512 KiB × … under the HeapMinimum512KiB experiment).
 */
export function readGcController(mem: ProcessMemory, address: bigint, o: GcControllerOffsets): GcControllerState {
  const b = mem.read(address, o.heapMarked + 8);
  const gogc = b.readInt32LE(o.gcPercent);
  const limit = b.readBigInt64LE(o.memoryLimit);
  const heapMinimum = b.readBigUInt64LE(o.heapMinimum);
  if (gogc < -1 || gogc > 1_000_000) throw new Error(`gcPercent is ${gogc}: not runtime.gcController`);
  if (limit < 0n || limit > MAX_INT64) throw new Error(`memoryLimit is ${limit}: not runtime.gcController`);
  if (gogc >= 0 && heapMinimum !== ((4n << 20n) * BigInt(gogc)) / 100n && heapMinimum !== ((512n << 10n) * BigInt(gogc)) / 100n) {
    throw new Error(`heapMinimum ${heapMinimum} does not follow from GOGC=${gogc}: not runtime.gcController`);
  }
  let goal = b.readBigUInt64LE(o.gcPercentHeapGoal);
  const sweepDist = b.readBigUInt64LE(o.sweepDistMinTrigger);
  const triggered = b.readBigUInt64LE(o.triggered);
  if (sweepDist > goal) goal = sweepDist;
  if (triggered !== NO_TRIGGER && goal < triggered + MIN_RUNWAY) goal = triggered + MIN_RUNWAY;
  return { gogcPercent: gogc, memoryLimitBytes: Number(limit), heapGoalBytes: Number(goal), heapLiveBytes: Number(b.readBigUInt64LE(o.heapMarked)) };
}

import type { GcControllerOffsets } from './offsets.js';
import { u64Of, type ProcessMemory } from './process-memory.js';

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

const MIN_RUNWAY = 64 << 10;

/** Bytes of runtime.gcController the probe reads. */
export function gcControllerSize(o: GcControllerOffsets): number {
  return o.heapMarked + 8;
}

/**
 * Reads runtime.gcController. Throws when the memory does not hold it (a wrong address on a
 * stripped binary): GOGC in range, a non-negative limit, and heapMinimum as setGCPercent sets
 * it from GOGC (4 MiB × GOGC / 100; 512 KiB × … under the HeapMinimum512KiB experiment).
 */
export function readGcController(mem: ProcessMemory, address: bigint, o: GcControllerOffsets): GcControllerState {
  const b = mem.read(address, gcControllerSize(o));
  return parseGcController(new DataView(b.buffer, b.byteOffset, b.length), 0, o);
}

/**
 * runtime.gcController from its bytes at `at` of `b`, checked as readGcController says. In
 * numbers, not BigInts: they were most of what a read of it allocated.
 */
export function parseGcController(b: DataView, at: number, o: GcControllerOffsets): GcControllerState {
  const gogc = b.getInt32(at + o.gcPercent, true);
  // An int64: negative when its high word is.
  if (b.getInt32(at + o.memoryLimit + 4, true) < 0) throw new Error(`memoryLimit is negative: not runtime.gcController`);
  const limit = u64Of(b, at + o.memoryLimit);
  const heapMinimum = u64Of(b, at + o.heapMinimum);
  if (gogc < -1 || gogc > 1_000_000) throw new Error(`gcPercent is ${gogc}: not runtime.gcController`);
  if (gogc >= 0 && heapMinimum !== Math.floor((4194304 * gogc) / 100) && heapMinimum !== Math.floor((524288 * gogc) / 100)) {
    throw new Error(`heapMinimum ${heapMinimum} does not follow from GOGC=${gogc}: not runtime.gcController`);
  }
  let goal = u64Of(b, at + o.gcPercentHeapGoal);
  const sweepDist = u64Of(b, at + o.sweepDistMinTrigger);
  // ^uint64(0): no trigger yet.
  const untriggered = b.getUint32(at + o.triggered, true) === 0xffffffff && b.getUint32(at + o.triggered + 4, true) === 0xffffffff;
  const triggered = u64Of(b, at + o.triggered);
  if (sweepDist > goal) goal = sweepDist;
  if (!untriggered && goal < triggered + MIN_RUNWAY) goal = triggered + MIN_RUNWAY;
  return { gogcPercent: gogc, memoryLimitBytes: limit, heapGoalBytes: goal, heapLiveBytes: u64Of(b, at + o.heapMarked) };
}

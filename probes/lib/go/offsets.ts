/**
 * Go runtime struct offsets (amd64) per Go version. 1.19 and 1.21–1.24 were read from DWARF
 * of binaries built here (test/go-offsets.test.ts re-checks them with gdb for every
 * toolchain it has); 1.17, 1.18 and 1.20 come from the runtime sources and are not measured.
 * `undefined` means unknown for that version: only the metrics needing it are disabled.
 */
export interface GoOffsets {
  gGoid: number;
  pRunqhead: number;
  pRunqtail: number;
  pRunnext: number;
  pGfreeN?: number;
  schedNmidle: number;
  schedNmidlelocked: number;
  schedMnext: number;
  schedNmsys: number;
  schedNmfreed: number;
  schedNgsys: number;
  schedGfreeN?: number;
  mcacheAlloc?: number;
  spanAllocCount?: number;
  spanAllocCountBeforeCache?: number;
  /** stopTheWorldWithSema takes a stwReason (its phase) from 1.21 on. */
  stwReason: boolean;
  /** runtime.gcControllerState: the GC pacer's settings and goals (go_gc_gogc_percent, heap goal…). */
  gcController?: GcControllerOffsets;
}

export interface GcControllerOffsets {
  gcPercent: number;
  memoryLimit: number;
  heapMinimum: number;
  gcPercentHeapGoal: number;
  sweepDistMinTrigger: number;
  triggered: number;
  heapMarked: number;
}

/** gcPercent, memoryLimit and heapMinimum lead the struct on every version with a memory limit (1.19+). */
const GCC_119: GcControllerOffsets = { gcPercent: 0, memoryLimit: 8, heapMinimum: 16, gcPercentHeapGoal: 104, sweepDistMinTrigger: 112, triggered: 120, heapMarked: 184 };
/** 1.21 replaced consMarkController (a PI controller, 56 B) with lastConsMark (4 floats, 32 B). */
const GCC_121: GcControllerOffsets = { gcPercent: 0, memoryLimit: 8, heapMinimum: 16, gcPercentHeapGoal: 72, sweepDistMinTrigger: 80, triggered: 88, heapMarked: 152 };

const SCHED = { schedNmidle: 40, schedNmidlelocked: 44, schedMnext: 48, schedNmsys: 60, schedNmfreed: 64, schedNgsys: 72 };

const TABLE: Record<number, GoOffsets> = {
  17: { gGoid: 152, pRunqhead: 1520, pRunqtail: 1524, pRunnext: 3576, ...SCHED, stwReason: false },
  18: { gGoid: 152, pRunqhead: 400, pRunqtail: 404, pRunnext: 2456, ...SCHED, stwReason: false },
  19: { gGoid: 152, pRunqhead: 400, pRunqtail: 404, pRunnext: 2456, pGfreeN: 2472, ...SCHED, schedGfreeN: 176, mcacheAlloc: 40, spanAllocCount: 96, spanAllocCountBeforeCache: 102, stwReason: false, gcController: GCC_119 },
  20: { gGoid: 152, pRunqhead: 400, pRunqtail: 404, pRunnext: 2456, ...SCHED, stwReason: false },
  21: { gGoid: 152, pRunqhead: 400, pRunqtail: 404, pRunnext: 2456, pGfreeN: 2472, ...SCHED, schedGfreeN: 184, mcacheAlloc: 40, spanAllocCount: 104, spanAllocCountBeforeCache: 110, stwReason: true, gcController: GCC_121 },
  22: { gGoid: 152, pRunqhead: 400, pRunqtail: 404, pRunnext: 2456, pGfreeN: 2472, ...SCHED, schedGfreeN: 184, mcacheAlloc: 40, spanAllocCount: 96, spanAllocCountBeforeCache: 102, stwReason: true, gcController: GCC_121 },
  23: { gGoid: 160, pRunqhead: 392, pRunqtail: 396, pRunnext: 2448, pGfreeN: 2464, ...SCHED, schedGfreeN: 184, mcacheAlloc: 40, spanAllocCount: 96, spanAllocCountBeforeCache: 102, stwReason: true, gcController: GCC_121 },
  24: { gGoid: 160, pRunqhead: 392, pRunqtail: 396, pRunnext: 2448, pGfreeN: 2464, ...SCHED, schedGfreeN: 184, mcacheAlloc: 48, spanAllocCount: 96, spanAllocCountBeforeCache: 102, stwReason: true, gcController: GCC_121 },
};

export const SUPPORTED_GO_MINORS = Object.keys(TABLE).map(Number);

/** Offsets for go1.<minor>, or undefined with nothing guessed for versions we have not checked. */
export function goOffsets(major: number, minor: number): GoOffsets | undefined {
  return major === 1 ? TABLE[minor] : undefined;
}

/** Go's size classes: class_to_size, identical from 1.19 through 1.24 (runtime/sizeclasses.go). */
export const CLASS_TO_SIZE = [
  0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768,
];

/**
 * runtime.mstats and heapStatsDelta (amd64), the same in 1.19 and 1.21–1.24 (checked against
 * DWARF per toolchain in go-tables.test.ts): heapStats (three generations of deltas that only
 * ever get added to; their sum is the total) at 0, pause_total_ns at 3600, numgc at 7704, enablegc
 * at 7736.
 */
export const MEMSTATS = {
  heapStats: 0,
  heapStatsGenerations: 3,
  deltaSize: 1176,
  largeAlloc: 56,
  largeAllocCount: 64,
  smallAllocCount: 72,
  pauseTotalNs: 3600,
  numgc: 7704,
  enablegc: 7736,
} as const;

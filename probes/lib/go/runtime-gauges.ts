import type { GoOffsets } from './offsets.js';
import type { ProcessMemory } from './process-memory.js';
import type { RuntimeGlobals } from './runtime-globals.js';

export interface RuntimeGauges {
  /** Local run-queue length of each P, by P index (runnext counts as one). */
  runq: number[];
  /** Ms running or spinning: mcount − idle − idle-locked − system (as runtime.checkdead counts). */
  nonIdleMs: number;
  /** runtime.gcount(): all Gs − free Gs − system Gs; undefined without allglen. */
  goroutines?: number;
  /** runtime.mcount(): Ms (OS threads) the runtime has, mnext − nmfreed. */
  threads: number;
  /** GOMAXPROCS: len(allp), which procresize keeps equal to it. */
  gomaxprocs: number;
}

/**
 * Why allglen cannot be trusted in this process, or undefined when it can: it must equal
 * len(allgs), which allgadd stores it from under allglock (read a few times: a goroutine being
 * created in between moves both).
 */
export function allglenProblem(mem: ProcessMemory, g: RuntimeGlobals): string | undefined {
  if (g.allglen === undefined) return 'runtime.allglen not found (no symbol table, and runtime.allgadd did not match the known code)';
  if (g.allgsLen === undefined) return undefined;
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const n = mem.u64(g.allglen);
    const len = mem.u64(g.allgsLen);
    if (n === len && n >= 1n && n <= 10_000_000n) return undefined;
    last = `allglen ${n} but len(allgs) ${len}`;
  }
  return `runtime.allglen at 0x${g.allglen.toString(16)} does not check out in this process (${last})`;
}

/**
 * One consistent-enough read of the scheduler state. Go updates these fields without locks
 * we can take, so each value is a snapshot, as runtime.gcount() itself says of its own.
 */
export function readRuntimeGauges(mem: ProcessMemory, g: RuntimeGlobals, o: GoOffsets): RuntimeGauges {
  const sched = mem.read(g.sched, 256);
  const i32 = (off: number) => sched.readInt32LE(off);
  const mcount = i32(o.schedMnext) - i32(o.schedNmfreed);
  const nonIdleMs = mcount - i32(o.schedNmidle) - i32(o.schedNmidlelocked) - i32(o.schedNmsys);

  const allp = mem.read(g.allp, 16);
  const ptr = allp.readBigUInt64LE(0);
  const len = Number(allp.readBigUInt64LE(8));
  if (len < 0 || len > 4096) throw new Error(`runtime.allp has ${len} entries: wrong address or offsets`);
  const ps = len ? mem.readAt(ptr, len * 8) : Buffer.alloc(0);
  const runq: number[] = [];
  let freeInPs = 0;
  // The fields of a P in one read (runqhead … runnext spans its 256-slot run queue, ~2 KiB):
  // a syscall per P instead of three.
  const first = Math.min(o.pRunqhead, o.pRunnext, o.pGfreeN ?? Infinity);
  const end = Math.max(o.pRunqhead + 8, o.pRunnext + 8, o.pGfreeN === undefined ? 0 : o.pGfreeN + 4);
  for (let i = 0; i < len; i++) {
    const p = ps.readBigUInt64LE(i * 8);
    if (!p) continue;
    const f = mem.readAt(p + BigInt(first), end - first);
    const head = o.pRunqhead - first;
    runq[i] = ((f.readUInt32LE(head + 4) - f.readUInt32LE(head)) >>> 0) + (f.readBigUInt64LE(o.pRunnext - first) ? 1 : 0);
    if (o.pGfreeN !== undefined) freeInPs += f.readInt32LE(o.pGfreeN - first);
  }
  let goroutines: number | undefined;
  if (g.allglen !== undefined && o.schedGfreeN !== undefined && o.pGfreeN !== undefined) {
    const allglen = Number(mem.u64(g.allglen));
    goroutines = Math.max(1, allglen - i32(o.schedGfreeN) - sched.readUInt32LE(o.schedNgsys) - freeInPs);
  }
  return { runq, nonIdleMs, threads: mcount, gomaxprocs: len, ...(goroutines !== undefined ? { goroutines } : {}) };
}

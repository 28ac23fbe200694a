/**
 * bpftrace programs doing what bpf/go_runtime.bpf.c does at each probe point, for the
 * side-by-side benchmark: same registers, same struct offsets, same maps keyed the same way.
 * bpftrace 0.17 cannot probe func+offset, so these sit on function entry (single-stepped);
 * that placement, not the aggregation, is most of the difference the benchmark shows.
 */
import type { PointName } from '../probes/lib/go/go-runtime-reader.js';
import { CLASS_TO_SIZE, type GoOffsets } from '../probes/lib/go/offsets.js';

const SYMBOL: Record<PointName, string> = {
  park: 'runtime.gopark',
  wake: 'runtime.casgstatus',
  stwStop: 'runtime.stopTheWorldWithSema',
  stwStart: 'runtime.startTheWorldWithSema',
  gcMarkTerm: 'runtime.gcMarkTermination',
  newproc: 'runtime.newproc1',
  goexit: 'runtime.goexit1',
  malloc: 'runtime.mallocgc',
  refill: '"runtime.(*mcache).refill"',
  releaseAll: '"runtime.(*mcache).releaseAll"',
  allocLarge: '"runtime.(*mcache).allocLarge"',
  ready: 'runtime.ready',
  injectglist: 'runtime.injectglist',
  // bpftrace cannot probe a call site inside a function: these sit on the functions' entries.
  stwMarkTermEnd: 'runtime.gcMarkTermination',
  stwByCaller: 'runtime.stopTheWorld.func1',
  stwClock: 'runtime.stopTheWorldWithSema',
  stwGcStartClock: 'runtime.gcStart',
  stwMarkDoneClock: 'runtime.gcMarkDone',
  runqput: 'runtime.runqput',
  gosched: 'runtime.goschedImpl',
  execute: 'runtime.execute',
};

const G_WAITING = 4;
const G_RUNNABLE = 1;
const MAX_SMALL_SIZE = 32768;
const PAGE = 8192;

export function bpftraceGoRuntime(binary: string, points: readonly PointName[], o: GoOffsets): string {
  const goid = (g: string) => `*(uint64*)(${g} + ${o.gGoid})`;
  // The wakeup side of blocked time, as woken() in the BPF program.
  const woken = (g: string) =>
    `$g = ${goid(g)}; $t = @park_ts[pid, $g]; if ($t) { $r = @park_reason[pid, $g]; @blocked_ns[pid, $r] = sum(nsecs - $t); @blocked[pid, $r] = count(); delete(@park_ts[pid, $g]); delete(@park_reason[pid, $g]); }`;
  const spanBytes = (spc: string) =>
    o.mcacheAlloc === undefined
      ? ''
      : `$span = *(uint64*)(reg("ax") + ${o.mcacheAlloc} + (${spc}) * 8); if ($span) { $used = *(uint16*)($span + ${o.spanAllocCount}) - *(uint16*)($span + ${o.spanAllocCountBeforeCache}); if (($used & 0x8000) == 0) { @span_bytes[pid] = sum($used * @class_size[(${spc}) >> 1]); } }`;
  const body: Record<PointName, string> = {
    park: `$g = ${goid('reg("r14")')}; @park_ts[pid, $g] = nsecs; @park_reason[pid, $g] = reg("cx") & 0xff;`,
    wake: `if ((reg("bx") & 0xffffffff) == ${G_WAITING} && (reg("cx") & 0xffffffff) == ${G_RUNNABLE}) { ${woken('reg("ax")')} }`,
    ready: woken('reg("ax")'),
    injectglist: `$gp = *(uint64*)reg("ax"); $i = 0; while ($i < 256 && $gp) { ${woken('$gp')} $gp = *(uint64*)($gp + ${o.gGoid + 8}); $i++; }`,
    // As P_STW_STOP: the reason (1.21+) or who stopped the world, and a GC clock read before it.
    stwStop: o.stwReason
      ? `@stw_ts[pid] = nsecs; @stw_reason[pid] = reg("ax") & 0xff; $c = @stw_gc_clock[pid]; if ($c) { @stw_ts[pid] = $c; delete(@stw_gc_clock[pid]); }`
      : `$r = @stw_by_caller[pid] ? 255 : 0; delete(@stw_by_caller[pid]); @stw_ts[pid] = nsecs; @stw_reason[pid] = $r; $c = @stw_gc_clock[pid]; if ($c) { if ($r == 0) { @stw_ts[pid] = $c; } delete(@stw_gc_clock[pid]); }`,
    stwStart: `$t = @stw_ts[pid]; if ($t) { $r = @stw_reason[pid]; @stw_pause[pid, $r] = hist(nsecs - $t); @stw_pause_sum[pid, $r] = sum(nsecs - $t); delete(@stw_ts[pid]); delete(@stw_reason[pid]); }`,
    gcMarkTerm: `@gc_cycles[pid] = count();`,
    stwMarkTermEnd: `$t = @stw_ts[pid]; if ($t) { $r = @stw_reason[pid]; @stw_pause[pid, $r] = hist(nsecs - $t); @stw_pause_sum[pid, $r] = sum(nsecs - $t); delete(@stw_ts[pid]); delete(@stw_reason[pid]); }`,
    stwByCaller: `@stw_by_caller[pid] = 1;`,
    stwClock: `if (@stw_ts[pid]) { @stw_ts[pid] = nsecs; }`,
    stwGcStartClock: `@stw_gc_clock[pid] = nsecs;`,
    stwMarkDoneClock: `@stw_gc_clock[pid] = nsecs;`,
    // Scheduling latency, 1 in 8 runnable goroutines timed, as became_runnable() samples.
    runqput: `if (rand % 8 == 0) { @runnable[pid, ${goid('reg("bx")')}] = nsecs; }`,
    gosched: `if (rand % 8 == 0) { @runnable[pid, ${goid('reg("ax")')}] = nsecs; }`,
    execute: `$g = ${goid('reg("ax")')}; $t = @runnable[pid, $g]; if ($t) { @sched_latency[pid] = hist(nsecs - $t); delete(@runnable[pid, $g]); }`,
    newproc: `@goroutines_created[pid] = count();`,
    goexit: `@goroutines_exited[pid] = count();`,
    malloc: `$size = reg("ax"); if ($size > ${MAX_SMALL_SIZE}) { @alloc_large[pid] = sum(($size + ${PAGE - 1}) / ${PAGE} * ${PAGE}); } else { if ($size > 0) { $typ = reg("bx"); $noscan = 1; if ($typ != 0) { if (*(uint64*)($typ + 8) != 0) { $noscan = 0; } } @alloc_sizes[pid, $size, $noscan] = count(); } }`,
    refill: spanBytes('reg("bx") & 0xff'),
    releaseAll: `$spc = 0; while ($spc < 136) { ${spanBytes('$spc')} $spc++; }`,
    allocLarge: `@span_bytes[pid] = sum((reg("bx") + ${PAGE - 1}) / ${PAGE} * ${PAGE});`,
  };
  const has = (...ps: PointName[]) => ps.some((p) => points.includes(p));
  const init: string[] = [];
  if (has('refill', 'releaseAll')) init.push(...CLASS_TO_SIZE.map((s, i) => `@class_size[${i}] = ${s};`));
  // bpftrace refuses a map that is read but never written; when a point is benchmarked alone,
  // its partner's maps get a dummy pid-0 entry that no lookup matches.
  if (has('ready', 'wake', 'injectglist') && !has('park')) init.push('@park_ts[0, 0] = 0; @park_reason[0, 0] = 0;');
  if (has('stwStart', 'stwMarkTermEnd', 'stwClock') && !has('stwStop')) init.push('@stw_ts[0] = 0; @stw_reason[0] = 0;');
  if (has('execute') && !has('runqput', 'gosched')) init.push('@runnable[0, 0] = 0;');
  // stwStop reads these before the probes that write them are parsed: bpftrace types maps in order.
  if (has('stwStop')) init.push('@stw_by_caller[0] = 0; @stw_gc_clock[0] = 0;');
  const begin = init.length ? `BEGIN { ${init.join(' ')} }\n` : '';
  return begin + points.map((p) => `uprobe:${binary}:${SYMBOL[p]} { ${body[p]} }`).join('\n') + '\n';
}

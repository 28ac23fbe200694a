/* Go runtime internals from outside, with entry uprobes only (uretprobes crash Go).
 * One program; the BPF cookie of each attachment says which runtime function it sits on.
 * Per-process struct offsets come from user space (they differ between Go versions).
 *
 *   park/wake      gopark → casgstatus(_Gwaiting→_Grunnable): blocked time by wait reason
 *   stw            stopTheWorldWithSema entry (from 1.22 its clock read after taking sched.lock,
 *                  as Go excludes that wait; before, GC pauses from the clock read in
 *                  gcStart/gcMarkDone just before they call it) → where Go itself reads the clock
 *                  that ends the pause: gcMarkTermination's `now := nanotime()` (mark
 *                  termination), else startTheWorldWithSema's; at each clock read the value Go
 *                  read, so a pause is Go's own number; pause histogram by phase
 *   gc             gcMarkTermination: one per completed GC cycle
 *   sched latency  runqput / goschedImpl / injectglist (runnable) → execute (running), opt-in
 *   goroutines     newproc1 (created), goexit1 (exited)
 *   alloc, cheap   (*mcache).refill + releaseAll + allocLarge: Go's own heap accounting
 *   alloc, exact   mallocgc: every allocation's size (rounded to size classes in user space)
 */
#include "common.h"

enum point {
  P_PARK = 0,
  P_WAKE = 1,
  P_STW_STOP = 2,
  P_STW_START = 3,          /* startTheWorldWithSema's `nanotime()` returned */
  P_GC_MARK_TERM = 4,
  P_NEWPROC = 5,
  P_GOEXIT = 6,
  P_MALLOC = 7,
  P_REFILL = 8,
  P_RELEASE_ALL = 9,
  P_ALLOC_LARGE = 10,
  P_READY = 11,
  P_INJECT = 12,
  P_STW_MARK_TERM_END = 13, /* gcMarkTermination's `call time.now`, just after its `now := nanotime()` */
  P_STW_BY_CALLER = 14,     /* stopTheWorld's closure (Go < 1.21): a stop that is not GC */
  P_STW_CLOCK = 15,         /* stopTheWorldWithSema's `call preemptall`, after its `nanotime()` (Go >= 1.22) */
  P_STW_GC_CLOCK = 16,      /* gcStart/gcMarkDone's `now := nanotime()` returned (Go < 1.22) */
  P_RUNQPUT = 17,           /* runqput(pp, gp, next): gp runnable (new, woken) */
  P_GOSCHED = 18,           /* goschedImpl(gp, …): gp yielded or was preempted, runnable again */
  P_EXECUTE = 19,           /* execute(gp, …): gp runs */
};

/* How a process's pauses get their phase. */
enum stw_mode {
  STW_PHASE_UNKNOWN = 0, /* Go < 1.21 without the points that tell */
  STW_PHASE_REASON = 1,  /* Go >= 1.21: stopTheWorldWithSema's reason argument */
  STW_PHASE_CALLER = 2,  /* Go < 1.21: who stopped the world (stopTheWorld: other; else GC) */
};
#define STW_OTHER_REASON 0xff

enum counter {
  C_GC_CYCLES = 0,
  C_GOROUTINES_CREATED = 1,
  C_GOROUTINES_EXITED = 2,
  /* 3 and 6: cheap mode's span accounting, now in span_allocs (one update for bytes and objects) */
  C_ALLOC_BYTES_LARGE = 4,   /* exact mode: allocations > 32 KiB, rounded to pages */
  C_MALLOC_CALLS = 5,
};

#define G_WAITING 4
#define G_RUNNABLE 1
#define NUM_SPAN_CLASSES 136
#define MAX_SMALL_SIZE 32768
#define PAGE_SIZE 8192

struct go_proc {
  __u32 goid_off;          /* g.goid */
  __u32 mcache_alloc_off;  /* mcache.alloc */
  __u32 span_count_off;    /* mspan.allocCount (uint16) */
  __u32 span_before_off;   /* mspan.allocCountBeforeCache (uint16) */
  __u32 stw_mode;          /* enum stw_mode */
  __u32 schedlink_off;     /* g.schedlink */
  __u32 latency_every;     /* scheduling latency of 1 in latency_every runnable goroutines; 0: off */
  __u32 pad;
};

struct parked_key {
  __u32 tgid;
  __u32 pad;
  __u64 goid;
};

struct parked_val {
  __u64 ts;
  __u32 reason;
  __u32 pad;
};

struct reason_key {
  __u32 tgid;
  __u32 reason;
};

struct blocked_val {
  __u64 ns;
  __u64 count;
};

struct stw_open {
  __u64 ts;
  __u32 reason;
  __u32 pad;
};

struct stw_key {
  __u32 tgid;
  __u32 phase; /* 0 unknown (Go < 1.21), 1 mark termination, 2 sweep termination, 3 other */
};

struct stw_val {
  __u64 count;
  __u64 sum_ns;
  __u64 hist[HIST_SLOTS];
};

struct counter_key {
  __u32 tgid;
  __u32 what;
};

struct size_key {
  __u32 tgid;
  __u32 size;
  __u32 noscan;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, struct go_proc);
} procs SEC(".maps");

/* LRU: a goroutine parked forever must not pin an entry for good. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 262144);
  __type(key, struct parked_key);
  __type(value, struct parked_val);
} parked SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct reason_key);
  __type(value, struct blocked_val);
} blocked SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, struct stw_open);
} stw_open SEC(".maps");

/* Set by stopTheWorld's closure, taken by the stopTheWorldWithSema it calls (worldsema held). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, __u32);
} stw_by_caller SEC(".maps");

/* Goroutines made runnable, by (tgid, goid): when; taken when they run (scheduling latency). */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct parked_key);
  __type(value, __u64);
} runnable_since SEC(".maps");

/* Runnable → running, per process: /sched/latencies:seconds. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, struct stw_val);
} sched_latency SEC(".maps");

/* Before 1.22 a GC pause starts where gcStart/gcMarkDone read the clock, just before they stop
 * the world (worldsema held: the next stopTheWorldWithSema of the process is theirs). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, __u64);
} stw_gc_clock SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct stw_key);
  __type(value, struct stw_val);
} stw SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct stw_val);
} zero_stw SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct counter_key);
  __type(value, __u64);
} counters SEC(".maps");

/* Cheap mode's heap accounting per process: bytes and objects (tiny blocks, not tiny allocs)
 * as Go adds them at refill/releaseAll/allocLarge; one map update for both. */
struct span_alloc {
  __u64 bytes;
  __u64 objects;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, struct span_alloc);
} span_allocs SEC(".maps");

static __always_inline void span_allocated(__u32 tgid, __u64 bytes, __u64 objects) {
  struct span_alloc *v = bpf_map_lookup_elem(&span_allocs, &tgid);
  if (v) {
    v->bytes += bytes;
    v->objects += objects;
    return;
  }
  struct span_alloc init = {.bytes = bytes, .objects = objects};
  bpf_map_update_elem(&span_allocs, &tgid, &init, BPF_NOEXIST);
}

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 131072);
  __type(key, struct size_key);
  __type(value, __u64);
} alloc_sizes SEC(".maps");

/* class_to_size of Go's size classes (identical in 1.19–1.24), filled by user space. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 68);
  __type(key, __u32);
  __type(value, __u32);
} class_size SEC(".maps");

/* releaseAll reads a whole mcache.alloc array at once: one user read instead of 136. */
struct span_list {
  __u64 spans[NUM_SPAN_CLASSES];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct span_list);
} span_scratch SEC(".maps");

static __always_inline void count(__u32 tgid, __u32 what, __u64 n) {
  struct counter_key k = {.tgid = tgid, .what = what};
  __u64 *v = bpf_map_lookup_elem(&counters, &k);
  if (v) {
    *v += n;
    return;
  }
  bpf_map_update_elem(&counters, &k, &n, BPF_NOEXIST);
}

static __always_inline __u64 read_u64(__u64 addr) {
  __u64 v = 0;
  bpf_probe_read_user(&v, sizeof(v), (void *)addr);
  return v;
}

/* Cookie flag: the point sits where a `call nanotime1` returns, or a little further where its
 * result slot is still intact (not on the fallback entry of a function, where the slot holds
 * something else). Mirrored in probes/lib/go/go-runtime-reader.ts. */
#define COOKIE_CLOCK_READ (1u << 9)

/* The clock value Go itself just read, at a point placed after a `call nanotime1`: pauses
 * then have Go's own boundaries, whatever the trap costs and however long the thread waited
 * between Go's reading and ours (a preemption there, on a busy node, moved a pause by tens of µs).
 * Ours elsewhere, or if the slot holds no reading of the same clock from the last second. */
static __always_inline __u64 go_clock_read(struct pt_regs *ctx, __u64 cookie, __u64 now) {
  if (!(cookie & COOKIE_CLOCK_READ)) return now;
  __u64 t = read_u64(GO_ABI0_RESULT0_AT(ctx));
  return t && t <= now && now - t < 1000000000ull ? t : now;
}

/* A parked goroutine becomes runnable: its blocked time goes to the reason it parked with. */
static __always_inline void woken(__u32 tgid, __u64 goid, __u64 now) {
  struct parked_key k = {.tgid = tgid, .goid = goid};
  struct parked_val *p = bpf_map_lookup_elem(&parked, &k);
  if (!p) return;
  struct reason_key rk = {.tgid = tgid, .reason = p->reason};
  __u64 d = now - p->ts;
  bpf_map_delete_elem(&parked, &k);
  struct blocked_val *b = bpf_map_lookup_elem(&blocked, &rk);
  if (b) {
    b->ns += d;
    b->count++;
  } else {
    struct blocked_val init = {.ns = d, .count = 1};
    bpf_map_update_elem(&blocked, &rk, &init, BPF_NOEXIST);
  }
}

static __always_inline __u32 read_u16(__u64 addr) {
  __u16 v = 0;
  bpf_probe_read_user(&v, sizeof(v), (void *)addr);
  return v;
}

/* Slots of a cached span used since it was cached: what Go adds to smallAllocCount in
 * refill and releaseAll (objects; times the class size, bytes). */
static __always_inline __u32 span_used(struct go_proc *cfg, __u64 span) {
  if (!span) return 0;
  __u32 used;
  __u32 gap = cfg->span_before_off - cfg->span_count_off;
  if (cfg->span_before_off >= cfg->span_count_off && gap <= 6) {
    /* Both uint16 fields in one 8-byte read (6 bytes apart in every Go version we know). */
    __u64 both = read_u64(span + cfg->span_count_off);
    used = (__u32)(__u16)both - (__u32)(__u16)(both >> (gap * 8));
  } else {
    used = read_u16(span + cfg->span_count_off) - read_u16(span + cfg->span_before_off);
  }
  return used & 0x8000 ? 0 : used;
}

static __always_inline __u64 class_bytes(__u32 spc, __u32 used) {
  if (!used) return 0;
  __u32 cls = spc >> 1;
  __u32 *size = bpf_map_lookup_elem(&class_size, &cls);
  return size ? (__u64)used * *size : 0;
}

/* A goroutine becomes runnable: 1 in latency_every of these is timed, as Go times 1 in 8 for
 * its own histogram (execute then finds only the sampled ones in the map). */
static __always_inline void became_runnable(__u32 tgid, struct go_proc *cfg, __u64 gp, __u64 now) {
  if (!cfg->latency_every || !cfg->goid_off) return;
  if (cfg->latency_every > 1 && bpf_get_prandom_u32() % cfg->latency_every) return;
  struct parked_key k = {.tgid = tgid, .goid = read_u64(gp + cfg->goid_off)};
  bpf_map_update_elem(&runnable_since, &k, &now, BPF_ANY);
}

/* Adds one observation to a per-process histogram, creating it from the all-zero template. */
static __always_inline void hist_add(void *map, void *key, __u64 d) {
  struct stw_val *v = bpf_map_lookup_elem(map, key);
  if (!v) {
    __u32 zk = 0;
    struct stw_val *zero = bpf_map_lookup_elem(&zero_stw, &zk);
    if (!zero) return;
    bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
    v = bpf_map_lookup_elem(map, key);
    if (!v) return;
  }
  __sync_fetch_and_add(&v->count, 1);
  __sync_fetch_and_add(&v->sum_ns, d);
  __u32 slot = log2_slot(d);
  if (slot < HIST_SLOTS) __sync_fetch_and_add(&v->hist[slot], 1);
}

/* The world restarts: the open pause goes to its phase's histogram. The first end point wins
 * (mark termination reads its clock in gcMarkTermination, before startTheWorldWithSema). */
static __always_inline void stw_closed(__u32 tgid, struct go_proc *cfg, __u64 now, int mark_term) {
  struct stw_open *o = bpf_map_lookup_elem(&stw_open, &tgid);
  if (!o) return;
  __u64 d = now - o->ts;
  __u32 r = o->reason;
  bpf_map_delete_elem(&stw_open, &tgid);
  __u32 phase;
  if (cfg->stw_mode == STW_PHASE_REASON) phase = r == 1 ? 1 : r == 2 ? 2 : 3;
  else if (cfg->stw_mode == STW_PHASE_CALLER) phase = r == STW_OTHER_REASON ? 3 : mark_term ? 1 : 2;
  else phase = 0;
  struct stw_key k = {.tgid = tgid, .phase = phase};
  hist_add(&stw, &k, d);
}

SEC("uprobe")
int on_go(struct pt_regs *ctx) {
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  __u32 tgid = pid_tgid >> 32;
  struct go_proc *cfg = bpf_map_lookup_elem(&procs, &tgid);
  if (!cfg) return 0;
  __u64 now = bpf_ktime_get_ns();
  __u64 cookie = point_cookie(ctx);
  if (bound_for_morestack(ctx, cookie)) return 0;

  switch (COOKIE_POINT(cookie)) {
    case P_PARK: {
      if (!cfg->goid_off) break; /* unknown Go version: no blocked time */
      /* gopark(unlockf, lock, reason waitReason, …): reason in CL; the parking g in R14. */
      struct parked_key k = {.tgid = tgid, .goid = read_u64(GO_G(ctx) + cfg->goid_off)};
      struct parked_val v = {.ts = now, .reason = GO_R2(ctx) & 0xff};
      bpf_map_update_elem(&parked, &k, &v, BPF_ANY);
      break;
    }
    case P_WAKE: {
      /* casgstatus(gp RAX, oldval EBX, newval ECX) */
      if (!cfg->goid_off || (GO_R1(ctx) & 0xffffffff) != G_WAITING || (GO_R2(ctx) & 0xffffffff) != G_RUNNABLE) break;
      woken(tgid, read_u64(GO_R0(ctx) + cfg->goid_off), now);
      break;
    }
    case P_READY:
      /* ready(gp RAX, …): goready and every wakeup through it (channels, timers, semaphores). */
      if (cfg->goid_off) woken(tgid, read_u64(GO_R0(ctx) + cfg->goid_off), now);
      break;
    case P_INJECT: {
      /* injectglist(glist *gList RAX): netpoll (IO wait) and GC assist wakeups come as a list. */
      if (!cfg->goid_off || !cfg->schedlink_off) break;
      __u64 gp = read_u64(GO_R0(ctx));
      for (int i = 0; i < 256 && gp; i++) {
        woken(tgid, read_u64(gp + cfg->goid_off), now);
        became_runnable(tgid, cfg, gp, now);
        gp = read_u64(gp + cfg->schedlink_off);
      }
      break;
    }
    case P_RUNQPUT:
      /* runqput(pp RAX, gp RBX, next CL) */
      became_runnable(tgid, cfg, GO_R1(ctx), now);
      break;
    case P_GOSCHED:
      /* goschedImpl(gp RAX, …) puts gp on the global run queue. */
      became_runnable(tgid, cfg, GO_R0(ctx), now);
      break;
    case P_EXECUTE: {
      /* execute(gp RAX, inheritTime BL) */
      if (!cfg->latency_every || !cfg->goid_off) break;
      struct parked_key k = {.tgid = tgid, .goid = read_u64(GO_R0(ctx) + cfg->goid_off)};
      __u64 *since = bpf_map_lookup_elem(&runnable_since, &k);
      if (!since) break;
      __u64 d = now - *since;
      bpf_map_delete_elem(&runnable_since, &k);
      hist_add(&sched_latency, &tgid, d);
      break;
    }
    case P_STW_BY_CALLER: {
      __u32 one = 1;
      bpf_map_update_elem(&stw_by_caller, &tgid, &one, BPF_ANY);
      break;
    }
    case P_STW_STOP: {
      __u32 reason = 0;
      if (cfg->stw_mode == STW_PHASE_REASON) reason = GO_R0(ctx) & 0xff;
      else if (cfg->stw_mode == STW_PHASE_CALLER && bpf_map_lookup_elem(&stw_by_caller, &tgid)) {
        reason = STW_OTHER_REASON;
        bpf_map_delete_elem(&stw_by_caller, &tgid);
      }
      struct stw_open o = {.ts = now, .reason = reason};
      __u64 *clock = bpf_map_lookup_elem(&stw_gc_clock, &tgid);
      if (clock) {
        /* Only GC stops read it (reasons 1, 2: mark/sweep termination); worldsema makes the next stop theirs. */
        int gc = cfg->stw_mode == STW_PHASE_REASON ? reason == 1 || reason == 2 : reason != STW_OTHER_REASON;
        if (gc && *clock <= now) o.ts = *clock;
        bpf_map_delete_elem(&stw_gc_clock, &tgid);
      }
      bpf_map_update_elem(&stw_open, &tgid, &o, BPF_ANY);
      break;
    }
    case P_STW_GC_CLOCK: {
      __u64 t = go_clock_read(ctx, cookie, now);
      bpf_map_update_elem(&stw_gc_clock, &tgid, &t, BPF_ANY);
      break;
    }
    case P_STW_CLOCK: {
      /* Go >= 1.22 starts its pause clock once sched.lock is held; the reason stays as read at entry. */
      struct stw_open *o = bpf_map_lookup_elem(&stw_open, &tgid);
      if (o) o->ts = go_clock_read(ctx, cookie, now);
      break;
    }
    case P_STW_START:
      stw_closed(tgid, cfg, go_clock_read(ctx, cookie, now), 0);
      break;
    case P_STW_MARK_TERM_END:
      stw_closed(tgid, cfg, go_clock_read(ctx, cookie, now), 1);
      break;
    case P_GC_MARK_TERM:
      count(tgid, C_GC_CYCLES, 1);
      break;
    case P_NEWPROC:
      count(tgid, C_GOROUTINES_CREATED, 1);
      break;
    case P_GOEXIT:
      count(tgid, C_GOROUTINES_EXITED, 1);
      break;
    case P_MALLOC: {
      /* mallocgc(size RAX, typ RBX, needzero CL): noscan when typ is nil or has no pointers. */
      __u64 size = GO_R0(ctx);
      if (!size) break;
      count(tgid, C_MALLOC_CALLS, 1);
      if (size > MAX_SMALL_SIZE) {
        count(tgid, C_ALLOC_BYTES_LARGE, (size + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE);
        break;
      }
      __u64 typ = GO_R1(ctx);
      struct size_key k = {.tgid = tgid, .size = size, .noscan = !typ || !read_u64(typ + 8)};
      __u64 *c = bpf_map_lookup_elem(&alloc_sizes, &k);
      if (c) (*c)++;
      else {
        __u64 one = 1;
        bpf_map_update_elem(&alloc_sizes, &k, &one, BPF_NOEXIST);
      }
      break;
    }
    case P_REFILL: {
      /* (*mcache).refill(c RAX, spc BL) */
      if (!cfg->mcache_alloc_off) break; /* unknown Go version: no span accounting */
      __u32 spc = GO_R1(ctx) & 0xff;
      __u32 used = span_used(cfg, read_u64(GO_R0(ctx) + cfg->mcache_alloc_off + (__u64)spc * 8));
      if (!used) break;
      span_allocated(tgid, class_bytes(spc, used), used);
      break;
    }
    case P_RELEASE_ALL: {
      if (!cfg->mcache_alloc_off) break;
      __u32 zero = 0;
      struct span_list *l = bpf_map_lookup_elem(&span_scratch, &zero);
      if (!l || bpf_probe_read_user(l->spans, sizeof(l->spans), (void *)(GO_R0(ctx) + cfg->mcache_alloc_off))) break;
      __u64 bytes = 0, objects = 0;
      for (__u32 spc = 0; spc < NUM_SPAN_CLASSES; spc++) {
        __u32 used = span_used(cfg, l->spans[spc]);
        bytes += class_bytes(spc, used);
        objects += used;
      }
      if (objects) span_allocated(tgid, bytes, objects);
      break;
    }
    case P_ALLOC_LARGE: {
      /* (*mcache).allocLarge(c RAX, size RBX, …): Go counts whole pages. */
      __u64 size = GO_R1(ctx);
      span_allocated(tgid, (size + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE, 1);
      break;
    }
  }
  return 0;
}

char LICENSE[] SEC("license") = "GPL";

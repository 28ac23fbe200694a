/* Generic hit counter for uprobes and kprobes (both are BPF_PROG_TYPE_KPROBE).
 * Each attachment carries a BPF cookie: the index of its probe point. Per (cookie, tgid) it
 * counts hits and, when the point has an argument configured, sums it and keeps a log2
 * histogram — all in the kernel, so nothing per hit reaches user space unless events are
 * asked for (then one ring-buffer record per hit).
 */
#include "common.h"

#define MAX_POINTS 64

enum arg_source { ARG_NONE = 0, ARG_REG = 1 };
enum point_flags { EMIT_EVENTS = 1 };

struct point_cfg {
  __u32 arg_source;
  __u32 reg;   /* index into regs_read(), see below */
  __u32 flags;
  __u32 pad;
};

struct hit_key {
  __u32 cookie;
  __u32 tgid;
};

struct hit_stats {
  __u64 count;
  __u64 sum;
  __u64 hist[HIST_SLOTS];
};

struct hit_event {
  __u64 ts_ns;
  __u32 cookie;
  __u32 tgid;
  __u32 tid;
  __u32 pad;
  __u64 arg;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, MAX_POINTS);
  __type(key, __u32);
  __type(value, struct point_cfg);
} points SEC(".maps");

/* Per-CPU: hot probe points (mallocgc) must not bounce a cache line between CPUs. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 16384);
  __type(key, struct hit_key);
  __type(value, struct hit_stats);
} hits SEC(".maps");

/* An all-zero value to insert from: a struct hit_stats does not fit on the 512-byte BPF stack. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct hit_stats);
} zero_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 22);
} events SEC(".maps");

/* Events that did not fit in the ring buffer (user space fell behind): counted, not lost silently. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} events_dropped SEC(".maps");

/* Registers by index, so user space can name Go-ABI or C-ABI arguments per architecture.
 * The switch only picks an offset: the verifier forbids loads through a ctx pointer moved
 * by a variable amount, so the register is read with bpf_probe_read_kernel. */
static __always_inline __u64 regs_read(struct pt_regs *ctx, __u32 reg) {
  long off = -1;
#if defined(__TARGET_ARCH_x86)
  switch (reg) {
    case 0: off = offsetof(struct pt_regs, ax); break;
    case 1: off = offsetof(struct pt_regs, bx); break;
    case 2: off = offsetof(struct pt_regs, cx); break;
    case 3: off = offsetof(struct pt_regs, dx); break;
    case 4: off = offsetof(struct pt_regs, si); break;
    case 5: off = offsetof(struct pt_regs, di); break;
    case 6: off = offsetof(struct pt_regs, r8); break;
    case 7: off = offsetof(struct pt_regs, r9); break;
    case 8: off = offsetof(struct pt_regs, r10); break;
    case 9: off = offsetof(struct pt_regs, r11); break;
    case 10: off = offsetof(struct pt_regs, r12); break;
    case 11: off = offsetof(struct pt_regs, r13); break;
    case 12: off = offsetof(struct pt_regs, r14); break;
    case 13: off = offsetof(struct pt_regs, r15); break;
    case 14: off = offsetof(struct pt_regs, sp); break;
    case 15: off = offsetof(struct pt_regs, bp); break;
  }
#elif defined(__TARGET_ARCH_arm64)
  if (reg < 31) off = offsetof(struct pt_regs, regs) + reg * 8;
  else if (reg == 31) off = offsetof(struct pt_regs, sp);
#endif
  __u64 v = 0;
  if (off >= 0) bpf_probe_read_kernel(&v, sizeof(v), (void *)ctx + off);
  return v;
}

SEC("kprobe")
int on_hit(struct pt_regs *ctx) {
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  __u32 tgid = pid_tgid >> 32;
  if (!pid_wanted(tgid)) return 0;

  __u64 raw_cookie = point_cookie(ctx);
  if (bound_for_morestack(ctx, raw_cookie)) return 0;
  __u32 cookie = COOKIE_POINT(raw_cookie);
  struct point_cfg *cfg = bpf_map_lookup_elem(&points, &cookie);
  __u64 arg = 0;
  if (cfg && cfg->arg_source == ARG_REG) arg = regs_read(ctx, cfg->reg);

  struct hit_key k = {.cookie = cookie, .tgid = tgid};
  struct hit_stats *s = bpf_map_lookup_elem(&hits, &k);
  if (!s) {
    __u32 zero_key = 0;
    struct hit_stats *zero = bpf_map_lookup_elem(&zero_stats, &zero_key);
    if (!zero) return 0;
    bpf_map_update_elem(&hits, &k, zero, BPF_NOEXIST);
    s = bpf_map_lookup_elem(&hits, &k);
    if (!s) return 0;
  }
  s->count++;
  if (cfg && cfg->arg_source != ARG_NONE) {
    s->sum += arg;
    __u32 slot = log2_slot(arg);
    if (slot < HIST_SLOTS) s->hist[slot]++;
  }
  if (cfg && (cfg->flags & EMIT_EVENTS)) {
    struct hit_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (e) {
      e->ts_ns = bpf_ktime_get_ns();
      e->cookie = cookie;
      e->tgid = tgid;
      e->tid = (__u32)pid_tgid;
      e->pad = 0;
      e->arg = arg;
      bpf_ringbuf_submit(e, 0);
    } else {
      __u32 zk = 0;
      __u64 *d = bpf_map_lookup_elem(&events_dropped, &zk);
      if (d) (*d)++;
    }
  }
  return 0;
}

char LICENSE[] SEC("license") = "GPL";

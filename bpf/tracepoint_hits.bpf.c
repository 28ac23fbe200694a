/* Generic event counter for tracepoints: classic (`tracepoint`, via tracefs, with a cookie per
 * attachment) and raw (`raw_tracepoint`, no tracefs needed; one object per attachment, so
 * the probe id comes from a global). Counts per (cookie, tgid) and remembers the comm.
 */
#include "common.h"

const volatile __u32 raw_cookie = 0;

struct tp_key {
  __u32 cookie;
  __u32 tgid;
};

struct tp_stats {
  __u64 count;
  char comm[16];
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct tp_key);
  __type(value, struct tp_stats);
} hits SEC(".maps");

static __always_inline int record(__u32 cookie) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  if (!pid_wanted(tgid)) return 0;
  struct tp_key k = {.cookie = cookie, .tgid = tgid};
  struct tp_stats *s = bpf_map_lookup_elem(&hits, &k);
  if (!s) {
    struct tp_stats init = {};
    bpf_get_current_comm(&init.comm, sizeof(init.comm));
    bpf_map_update_elem(&hits, &k, &init, BPF_NOEXIST);
    s = bpf_map_lookup_elem(&hits, &k);
    if (!s) return 0;
  }
  __sync_fetch_and_add(&s->count, 1);
  return 0;
}

SEC("tracepoint")
int on_tracepoint(void *ctx) {
  return record((__u32)point_cookie(ctx));
}

SEC("raw_tracepoint")
int on_raw_tracepoint(struct bpf_raw_tracepoint_args *ctx) {
  return record(raw_cookie);
}

char LICENSE[] SEC("license") = "GPL";

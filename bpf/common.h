/* Shared by probeflow's BPF programs: the pid filter and the stats layout user space decodes. */
#pragma once
#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define HIST_SLOTS 64

/* Set before load: when non-zero, only tgids present in `target_pids` are recorded. */
const volatile __u32 filter_pids = 0;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 8192);
  __type(key, __u32);
  __type(value, __u8);
} target_pids SEC(".maps");

static __always_inline int pid_wanted(__u32 tgid) {
  if (!filter_pids) return 1;
  return bpf_map_lookup_elem(&target_pids, &tgid) != 0;
}

/* Cookie flag: the probe sits on a Go prologue's jbe (emulated by the kernel: ~0.6 µs a hit
 * instead of ~10 µs for a single-stepped instruction). When that branch is taken the function
 * goes to morestack and re-enters, so the hit that sees it taken is skipped. The decision is
 * the CPU's own: the flags the preceding cmp left in the trap frame (jbe: CF=1 or ZF=1).
 * Re-reading g.stackguard0 instead would race with sysmon setting it to stackPreempt. */
#define COOKIE_AT_JBE (1u << 8)

/* Kernels before 5.15 have no bpf_get_attach_cookie: there the engine loads one copy of the
 * program per cookie, sharing every map with the original (engine/bpf/bpf-object.ts), with the
 * cookie as a constant. The verifier sees `cookie_fixed` as known and drops the helper call. */
const volatile __u8 cookie_fixed = 0;
const volatile __u64 fixed_cookie = 0;

static __always_inline __u64 point_cookie(void *ctx) {
  if (cookie_fixed) return fixed_cookie;
  return bpf_get_attach_cookie(ctx);
}
#define COOKIE_POINT(c) ((__u32)(c) & 0xff)

static __always_inline int bound_for_morestack(struct pt_regs *ctx, __u64 cookie) {
  if (!(cookie & COOKIE_AT_JBE)) return 0;
#if defined(__TARGET_ARCH_x86)
  return (ctx->flags & 0x41) != 0; /* CF (bit 0) or ZF (bit 6) */
#elif defined(__TARGET_ARCH_arm64)
  /* arm64's b.ls (also simulated, not stepped): taken when C is clear or Z is set (NZCV in
   * pstate bits 31..28). */
  return !(ctx->pstate & (1ull << 29)) || (ctx->pstate & (1ull << 30));
#endif
}

/* Go's register ABI (ABIInternal, Go 1.17+): the first integer arguments and results, and the
 * current goroutine g. amd64: RAX, RBX, RCX; g in R14. arm64: R0, R1, R2; g in R28. */
#if defined(__TARGET_ARCH_x86)
#define GO_R0(ctx) ((ctx)->ax)
#define GO_R1(ctx) ((ctx)->bx)
#define GO_R2(ctx) ((ctx)->cx)
#define GO_G(ctx) ((ctx)->r14)
#elif defined(__TARGET_ARCH_arm64)
#define GO_R0(ctx) ((ctx)->regs[0])
#define GO_R1(ctx) ((ctx)->regs[1])
#define GO_R2(ctx) ((ctx)->regs[2])
#define GO_G(ctx) ((ctx)->regs[28])
#endif

/* Where an assembly (ABI0) function such as nanotime1 leaves its result, seen at the instruction
 * its call returns to: amd64 0(SP); arm64 8(SP) (0(SP) is the callee's saved LR slot). */
#if defined(__TARGET_ARCH_x86)
#define GO_ABI0_RESULT0_AT(ctx) ((ctx)->sp)
#elif defined(__TARGET_ARCH_arm64)
#define GO_ABI0_RESULT0_AT(ctx) ((ctx)->sp + 8)
#endif

/* log2 slot of v: 0 for 0, else floor(log2(v)) + 1, so slot i holds [2^(i-1), 2^i). */
static __always_inline __u32 log2_slot(__u64 v) {
  __u32 r = 0;
  if (!v) return 0;
#pragma unroll
  for (int s = 32; s > 0; s >>= 1) {
    if (v >= (1ULL << s)) {
      v >>= s;
      r += s;
    }
  }
  return r + 1 < HIST_SLOTS ? r + 1 : HIST_SLOTS - 1;
}

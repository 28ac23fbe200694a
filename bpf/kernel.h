/* The kernel types probeflow's own programs need, per architecture, instead of a vmlinux.h
 * dumped from the build machine's kernel: the objects then build the same anywhere and for
 * either architecture (bpf/Makefile builds x86 and arm64 from one machine, as a multi-arch
 * image build must). The register layouts are the kernel's ABI for kprobe/uprobe programs
 * (bpf_user_pt_regs_t); kernel structs are read through CO-RE (preserve_access_index). */
#pragma once
#include <linux/bpf.h> /* UAPI: __u8…__u64, BPF_MAP_TYPE_*, BPF_ANY, bpf_raw_tracepoint_args */

/* bpf_tracing.h: use the kernel's register names (ax, not rax), as a vmlinux.h would. */
#define __VMLINUX_H__

#if defined(__TARGET_ARCH_x86)
/* arch/x86/include/asm/ptrace.h (64-bit): 21 words; cs and ss grew unions in 6.9, not size. */
struct pt_regs {
  unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
  unsigned long ax, cx, dx, si, di, orig_ax;
  unsigned long ip, cs, flags, sp, ss;
};
#elif defined(__TARGET_ARCH_arm64)
/* arch/arm64/include/uapi/asm/ptrace.h: what a kprobe/uprobe program's ctx is on arm64; the
 * kernel's struct pt_regs starts with the same words. */
struct user_pt_regs {
  __u64 regs[31];
  __u64 sp;
  __u64 pc;
  __u64 pstate;
};
struct pt_regs {
  __u64 regs[31];
  __u64 sp;
  __u64 pc;
  __u64 pstate;
};
#else
#error "probeflow's BPF programs know x86 and arm64: build with -D__TARGET_ARCH_x86 or -D__TARGET_ARCH_arm64"
#endif

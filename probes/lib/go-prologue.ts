/**
 * Go's stack-check prologue, where entry uprobes on Go functions belong.
 *
 * amd64 forms, as the Go compiler emits them:
 *   [lea -N(%rsp),%r12]  cmp 0x10(%r14),%rsp|%r12  jbe <morestack>
 * arm64 forms (g in x28; seen in Go 1.19–1.24 binaries, 1355 and 206 of 1586 prologues in
 * one; the rest, frames past 4 KiB, get an entry probe):
 *   ldr x16,[x28,#16]  cmp sp,x16  b.ls <morestack>
 *   ldr x16,[x28,#16]  sub x17,sp,#N  cmp x17,x16  b.ls <morestack>
 *
 * Measured on this project's VMs: a probe on an instruction the kernel must single-step
 * (the cmp at entry, or whatever follows the jbe) costs ~10 µs per hit; a probe on the jbe
 * itself, which the kernel emulates, ~0.6 µs. arm64's kernel simulates b.cond the same way
 * (arch/arm64/kernel/probes/simulate-insn.c); what follows is stepped out of line. The catch of the jbe: when the branch goes to
 * morestack (stack growth, preemption requests) the function re-enters and the probe fires
 * again. Our BPF programs skip the hit whose branch will be taken, read from the flags the
 * cmp left in the trap frame, so every call counts once.
 */
export interface StackCheck {
  /** Offset of the conditional branch to morestack from the function entry (jbe; arm64 b.ls). */
  jbe: number;
  /** Offset of the first instruction after it. */
  after: number;
  /** Register compared against g.stackguard0. */
  reg: 'rsp' | 'r12' | 'sp' | 'x17';
}

export function goStackCheck(code: Buffer, machine: 'x86_64' | 'aarch64'): StackCheck | undefined {
  return machine === 'x86_64' ? amd64StackCheck(code) : arm64StackCheck(code);
}

function arm64StackCheck(code: Buffer): StackCheck | undefined {
  if (code.length < 16) return undefined;
  const insn = (i: number) => code.readUInt32LE(i * 4);
  if (insn(0) !== 0xf9400b90) return undefined; // ldr x16, [x28, #16]: g.stackguard0
  let at: number;
  let reg: StackCheck['reg'];
  if (insn(1) === 0xeb3063ff) {
    [at, reg] = [2, 'sp']; // cmp sp, x16
  } else if (((insn(1) & 0xff8003ff) >>> 0) === 0xd10003f1 && insn(2) === 0xeb10023f) {
    [at, reg] = [3, 'x17']; // sub x17, sp, #N{, lsl 12}; cmp x17, x16
  } else {
    return undefined;
  }
  if (((insn(at) & 0xff00001f) >>> 0) !== 0x54000009) return undefined; // b.ls
  return { jbe: at * 4, after: at * 4 + 4, reg };
}

function amd64StackCheck(code: Buffer): StackCheck | undefined {
  let i = 0;
  // lea disp8(%rsp),%r12 = 4c 8d 64 24 XX ; lea disp32(%rsp),%r12 = 4c 8d a4 24 XX XX XX XX
  if (code[0] === 0x4c && code[1] === 0x8d && code[3] === 0x24) {
    if (code[2] === 0x64) i = 5;
    else if (code[2] === 0xa4) i = 8;
  }
  // cmp 0x10(%r14),%rsp = 49 3b 66 10 ; cmp 0x10(%r14),%r12 = 4d 3b 66 10
  const rex = code[i];
  if (!((rex === 0x49 || rex === 0x4d) && code[i + 1] === 0x3b && code[i + 2] === 0x66 && code[i + 3] === 0x10)) return undefined;
  const reg = rex === 0x4d ? 'r12' : 'rsp';
  const jbe = i + 4;
  if (code[jbe] === 0x76) return { jbe, after: jbe + 2, reg };
  if (code[jbe] === 0x0f && code[jbe + 1] === 0x86) return { jbe, after: jbe + 6, reg };
  return undefined;
}

/** BPF cookie flag (bpf/common.h COOKIE_AT_JBE): the probe sits on a prologue's jbe. */
export const COOKIE_AT_JBE = 1 << 8;

export function stackCheckCookie(reg: StackCheck['reg'] | undefined): number {
  return reg ? COOKIE_AT_JBE : 0;
}

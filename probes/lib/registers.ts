/**
 * Register indices as bpf/probe_hits.bpf.c's regs_read() numbers them, and the argument
 * registers of the Go and C calling conventions. amd64 only for now (arm64: see bpf code).
 */
export const X86_REGISTERS = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rsp', 'rbp'] as const;
export type X86Register = (typeof X86_REGISTERS)[number];

/** Go internal ABI (register-based, Go ≥ 1.17 on amd64). */
const GO_ARGS: X86Register[] = ['rax', 'rbx', 'rcx', 'rdi', 'rsi', 'r8', 'r9', 'r10', 'r11'];
/** System V AMD64 C ABI. */
const C_ARGS: X86Register[] = ['rdi', 'rsi', 'rdx', 'rcx', 'r8', 'r9'];

export type ArgSpec = { go?: number; c?: number; register?: string };

export function argRegister(arg: ArgSpec): number {
  const name = arg.register ?? (arg.go !== undefined ? GO_ARGS[arg.go - 1] : arg.c !== undefined ? C_ARGS[arg.c - 1] : undefined);
  const index = X86_REGISTERS.indexOf(name as X86Register);
  if (index < 0) throw new Error(`no register for argument ${JSON.stringify(arg)}`);
  return index;
}

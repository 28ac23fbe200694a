/**
 * Register indices as bpf/probe_hits.bpf.c's regs_read() numbers them, and the argument
 * registers of the Go and C calling conventions, per architecture: a config says `go: 2` or
 * `c: 1` and means the same argument on an x86 node and on a Kunpeng (arm64) one.
 */
const X86_REGISTERS = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rsp', 'rbp'] as const;
/** regs_read() on arm64: x0…x30 are indices 0…30, sp is 31. */
const ARM64_REGISTERS = [...Array.from({ length: 31 }, (_, i) => `x${i}`), 'sp'] as const;

interface Abi {
  registers: readonly string[];
  /** Go's internal ABI (register-based, Go ≥ 1.17). */
  go: readonly string[];
  /** The platform's C ABI (System V AMD64, AAPCS64). */
  c: readonly string[];
}

const ABIS: Record<'x64' | 'arm64', Abi> = {
  x64: { registers: X86_REGISTERS, go: ['rax', 'rbx', 'rcx', 'rdi', 'rsi', 'r8', 'r9', 'r10', 'r11'], c: ['rdi', 'rsi', 'rdx', 'rcx', 'r8', 'r9'] },
  arm64: { registers: ARM64_REGISTERS, go: Array.from({ length: 16 }, (_, i) => `x${i}`), c: Array.from({ length: 8 }, (_, i) => `x${i}`) },
};

export type ArgSpec = { go?: number; c?: number; register?: string };

export function argRegister(arg: ArgSpec, arch: string = process.arch): number {
  const abi = ABIS[arch as keyof typeof ABIS];
  if (!abi) throw new Error(`no register ABI for ${arch}: probeflow knows x64 and arm64`);
  const name = arg.register ?? (arg.go !== undefined ? abi.go[arg.go - 1] : arg.c !== undefined ? abi.c[arg.c - 1] : undefined);
  const index = abi.registers.indexOf(name ?? '');
  if (index < 0) throw new Error(`no ${arch} register for argument ${JSON.stringify(arg)}${arg.register ? `: ${arch} registers are ${abi.registers.join(' ')}` : ''}`);
  return index;
}

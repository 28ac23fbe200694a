import { readFileSync } from 'node:fs';

/** The capabilities the agent uses, by bit (linux/capability.h); docs/security.md says why each. */
export const CAPABILITIES = {
  CAP_DAC_READ_SEARCH: 2,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_RESOURCE: 24,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
} as const;
export type CapabilityName = keyof typeof CAPABILITIES;

/** Which of CAPABILITIES this process has in its effective set. */
export function effectiveCapabilities(status = readFileSync('/proc/self/status', 'utf8')): Set<CapabilityName> {
  const eff = BigInt('0x' + (/^CapEff:\s*([0-9a-f]+)/m.exec(status)?.[1] ?? '0'));
  return new Set((Object.entries(CAPABILITIES) as [CapabilityName, number][]).filter(([, bit]) => (eff >> BigInt(bit)) & 1n).map(([name]) => name));
}

import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/**
 * What this kernel can do for probes, checked the cheap way (sysfs, tracefs) so the engine
 * can refuse exactly the probes it cannot serve, with the reason and what to do.
 */
export type Feature = 'bpf' | 'btf' | 'uprobe' | 'kprobe' | 'tracefs' | 'bpffs';

export interface FeatureStatus {
  ok: boolean;
  detail: string;
  fix?: string;
}

export const TRACEFS = '/sys/kernel/tracing';

export function checkFeature(f: Feature): FeatureStatus {
  switch (f) {
    case 'bpf': {
      const jit = readOr('/proc/sys/net/core/bpf_jit_enable');
      return existsSync('/sys/fs/bpf') || jit !== undefined
        ? { ok: true, detail: `bpf() available${jit !== undefined ? `, JIT ${jit.trim() === '0' ? 'off' : 'on'}` : ''}` }
        : { ok: false, detail: 'no sign of BPF support (no /sys/fs/bpf, no bpf_jit_enable)', fix: 'use a kernel built with CONFIG_BPF_SYSCALL=y' };
    }
    case 'btf':
      return existsSync('/sys/kernel/btf/vmlinux')
        ? { ok: true, detail: '/sys/kernel/btf/vmlinux present (CO-RE works: the process watcher relocates onto task_struct)' }
        : { ok: false, detail: 'no /sys/kernel/btf/vmlinux', fix: 'probes work; the process watcher cannot load (new processes are found by /proc rescans). A kernel with CONFIG_DEBUG_INFO_BTF=y has it (CCE: HCE 2.0, Ubuntu 22.04)' };
    case 'uprobe':
      return existsSync('/sys/bus/event_source/devices/uprobe/type')
        ? { ok: true, detail: 'uprobe PMU present' }
        : { ok: false, detail: 'no uprobe PMU (/sys/bus/event_source/devices/uprobe)', fix: 'use a kernel with CONFIG_UPROBE_EVENTS=y' };
    case 'kprobe':
      return existsSync('/sys/bus/event_source/devices/kprobe/type')
        ? { ok: true, detail: 'kprobe PMU present' }
        : { ok: false, detail: 'this kernel has no kprobes (no kprobe PMU; CONFIG_KPROBES unset)', fix: 'use a tracepoint or raw_tracepoint probe instead, or a kernel with CONFIG_KPROBES=y' };
    case 'tracefs':
      return existsSync(`${TRACEFS}/events`)
        ? { ok: true, detail: `tracefs mounted at ${TRACEFS}` }
        : { ok: false, detail: `tracefs is not mounted at ${TRACEFS}`, fix: `mount -t tracefs tracefs ${TRACEFS} (or use raw_tracepoint, which needs no tracefs)` };
    case 'bpffs':
      return isMounted('/sys/fs/bpf', 'bpf')
        ? { ok: true, detail: 'bpffs mounted at /sys/fs/bpf' }
        : { ok: false, detail: 'bpffs not mounted at /sys/fs/bpf (only needed to pin maps)', fix: 'mount -t bpf bpf /sys/fs/bpf' };
  }
}

/** Throws the reason and the fix: a probe calls this before it loads anything. */
export function requireFeature(f: Feature): void {
  const s = checkFeature(f);
  if (!s.ok) throw new Error(`${s.detail}${s.fix ? `: ${s.fix}` : ''}`);
}

/** Mounts tracefs when it is missing (root only); returns whether it is mounted afterwards. */
export function ensureTracefs(): FeatureStatus {
  if (checkFeature('tracefs').ok) return checkFeature('tracefs');
  try {
    execFileSync('mount', ['-t', 'tracefs', 'tracefs', TRACEFS], { stdio: 'pipe' });
  } catch (e) {
    return { ok: false, detail: `tracefs is not mounted at ${TRACEFS} and mounting it failed (${(e as Error).message.split('\n')[0]})`, fix: `mount -t tracefs tracefs ${TRACEFS}` };
  }
  return checkFeature('tracefs');
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function isMounted(path: string, fstype: string): boolean {
  const mounts = readOr('/proc/mounts') ?? '';
  return mounts.split('\n').some((l) => {
    const [, mnt, type] = l.split(' ');
    return mnt === path && type === fstype;
  });
}

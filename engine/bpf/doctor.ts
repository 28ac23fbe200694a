import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { BpfObject, bpfArch, bundledObjectPath, kernelHasAttachCookies, kernelHasUprobeMulti } from './bpf-object.js';
import { checkFeature, ensureTracefs, type Feature, type FeatureStatus } from './kernel-features.js';
import { native } from './native.js';
import { CAPABILITIES, effectiveCapabilities, type CapabilityName } from '../util/capabilities.js';

export interface Check extends FeatureStatus {
  name: string;
  /** Without it no probe can run; others disable only some probe types. */
  essential: boolean;
}


/** Everything `probeflow doctor` reports; the engine logs the failures at start. */
export function runChecks(opts: { fix?: boolean; load?: boolean } = {}): Check[] {
  const checks: Check[] = [];
  const add = (name: string, essential: boolean, s: FeatureStatus) => checks.push({ name, essential, ...s });
  const feature = (name: string, f: Feature, essential: boolean) => add(name, essential, checkFeature(f));

  const [major = 0, minor = 0] = release().split('.').map(Number);
  add('kernel', true, major > 4 || (major === 4 && minor >= 18)
    ? { ok: true, detail: `Linux ${release()}${major < 5 || (major === 5 && minor < 11) ? ' (< 5.11: BPF memory counts against RLIMIT_MEMLOCK)' : ''}` }
    : { ok: false, detail: `Linux ${release()} is older than 4.18`, fix: 'use a newer node OS image' });
  feature('bpf syscall', 'bpf', true);
  // Only the process watcher's object has CO-RE relocations (task_struct); the probes' objects
  // carry their register layouts (bpf/kernel.h) and load without kernel BTF.
  feature('BTF', 'btf', false);
  feature('uprobes', 'uprobe', false);
  feature('kprobes', 'kprobe', false);
  add('tracefs', false, opts.fix ? ensureTracefs() : checkFeature('tracefs'));
  feature('bpffs', 'bpffs', false);
  add('capabilities', true, capabilities());
  add('memlock', false, memlock(major, minor));
  try {
    const n = native();
    add('libbpf binding', true, { ok: true, detail: `libbpf ${n.libbpfVersion()}, ${n.possibleCpus()} possible CPUs` });
    // 2 = BPF_PROG_TYPE_KPROBE (uprobes, kprobes), 27 = BPF_MAP_TYPE_RINGBUF.
    add('BPF program types', true, n.probeProgType(2) === 1 ? { ok: true, detail: 'kprobe/uprobe programs load' } : { ok: false, detail: 'the kernel refuses kprobe-type programs', fix: 'run as root or with CAP_BPF+CAP_PERFMON' });
    const ring = n.probeMapType(27) === 1;
    add('ring buffers', false, ring ? { ok: true, detail: 'BPF ring buffers available' } : { ok: false, detail: 'no BPF ring buffer (kernel < 5.8)', fix: 'probes work, but not `events: true`' });
    // 17 = BPF_PROG_TYPE_RAW_TRACEPOINT: sched_process_fork/exec/exit for the process watcher.
    add('process events', false, ring && n.probeProgType(17) === 1
      ? { ok: true, detail: 'fork/exec/exit from raw tracepoints: processes are found as they start' }
      : { ok: false, detail: 'no raw tracepoint programs or ring buffer: processes are found by /proc rescans', fix: 'probes work; a new process waits up to `rescan` (default 2 s)' });
    add('attach cookies', false, kernelHasAttachCookies()
      ? { ok: true, detail: 'bpf_get_attach_cookie (Linux 5.15+): one program serves every probe point' }
      : { ok: false, detail: 'no bpf_get_attach_cookie (Linux < 5.15): one program copy per probe point, maps shared', fix: 'probes work; each further point costs a program load (~15 ms here) and its image (4 KB; go_runtime 12 KB)' });
    add('uprobe_multi links', false, kernelHasUprobeMulti()
      ? { ok: true, detail: 'one link per binary (Linux 6.6+): detaching a binary takes ~40 ms' }
      : { ok: false, detail: 'one uprobe link per point (Linux < 6.6, no attach cookies, or PROBEFLOW_UPROBE_MULTI=off)', fix: 'probes work; the kernel takes ~0.1 s to close each link (off the event loop)' });
    add('bulk map reads', false, major > 5 || (major === 5 && minor >= 6)
      ? { ok: true, detail: 'BPF_MAP_LOOKUP_BATCH (Linux 5.6+): a syscall per 256 map entries' }
      : { ok: false, detail: 'no BPF_MAP_LOOKUP_BATCH (Linux < 5.6): maps are read entry by entry', fix: 'probes work; reads cost two syscalls per entry' });
  } catch (e) {
    add('libbpf binding', true, { ok: false, detail: (e as Error).message });
  }
  try {
    bundledObjectPath('probe_hits');
    bundledObjectPath('tracepoint_hits');
    bundledObjectPath('process_events');
    add('BPF objects', true, { ok: true, detail: `bpf/${bpfArch()}/*.bpf.o built` });
    if (opts.load) for (const [object, probes] of LOADED) add(`loads ${object}`, false, loads(object, probes));
  } catch (e) {
    add('BPF objects', true, { ok: false, detail: (e as Error).message });
  }
  return checks;
}

/** Each bundled object and what cannot run without it: `doctor` loads them for real. */
const LOADED: [string, string][] = [
  ['probe_hits', 'uprobe and kprobe probes'],
  ['tracepoint_hits', 'tracepoint and raw_tracepoint probes'],
  ['go_runtime', 'the go_runtime probe'],
  ['process_events', 'the process watcher (else /proc rescans)'],
];

/**
 * The verifier is the final word on what a kernel can run: a vendor kernel may backport
 * features its version number predates (RHEL 8's 4.18 has much of 5.x BPF) or lack some it
 * should have. The first lines of libbpf's refusal say which.
 */
function loads(object: string, probes: string): FeatureStatus {
  let obj: BpfObject | undefined;
  try {
    obj = new BpfObject(bundledObjectPath(object)).load();
    return { ok: true, detail: `the kernel verifies and loads bpf/${bpfArch()}/${object}.bpf.o` };
  } catch (e) {
    const lines = (e as Error).message.split('\n');
    const why = lines.find((l) => /invalid func|unknown func|BTF|back-edge|too large|not supported|-E/.test(l))?.replace(/^\s*libbpf warn:\s*/, '');
    return { ok: false, detail: `the kernel refuses bpf/${bpfArch()}/${object}.bpf.o: ${lines[0]}${why && why !== lines[0] ? ` (${why.trim()})` : ''}`, fix: `${probes} cannot run on this kernel; see docs/kernels.md for what each kernel lacks` };
  } finally {
    obj?.close();
  }
}

function capabilities(): FeatureStatus {
  const has = effectiveCapabilities();
  const all = Object.keys(CAPABILITIES) as CapabilityName[];
  const missing = all.filter((c) => !has.has(c));
  const canLoad = has.has('CAP_SYS_ADMIN') || (has.has('CAP_BPF') && has.has('CAP_PERFMON'));
  const detail = `effective: ${[...has].join(', ') || 'none'}${missing.length ? ` (missing: ${missing.join(', ')})` : ''}`;
  return canLoad
    ? { ok: true, detail }
    : { ok: false, detail, fix: 'run as root, or grant CAP_SYS_ADMIN (uprobes; covers BPF and PERFMON), CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (other users\' processes) — docs/security.md' };
}

function memlock(major: number, minor: number): FeatureStatus {
  const limits = existsSync('/proc/self/limits') ? readFileSync('/proc/self/limits', 'utf8') : '';
  const m = /^Max locked memory\s+(\S+)/m.exec(limits);
  const value = m?.[1] ?? 'unknown';
  if (major > 5 || (major === 5 && minor >= 11)) return { ok: true, detail: `not needed on this kernel (BPF memory is charged to the cgroup); limit ${value}` };
  return value === 'unlimited' || Number(value) >= 64 << 20
    ? { ok: true, detail: `RLIMIT_MEMLOCK ${value}` }
    : { ok: false, detail: `RLIMIT_MEMLOCK is ${value} bytes: kernels < 5.11 need more for BPF maps`, fix: 'raise it (ulimit -l unlimited) or grant CAP_SYS_RESOURCE' };
}

/**
 * Time spent inside BPF programs, as the kernel measures it (kernel.bpf_stats_enabled): exact
 * per-hit program cost, free of the workload's run-to-run noise. It excludes the uprobe trap,
 * which the empty-program floor measures. bpftool reads it for programs we do not own (bpftrace's).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';

interface ProgInfo {
  id: number;
  type: string;
  run_time_ns?: number;
  run_cnt?: number;
}

function progs(): ProgInfo[] {
  return JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as ProgInfo[];
}

export function progIds(): Set<number> {
  return new Set(progs().map((p) => p.id));
}

/** Run time and run count summed over the uprobe/kprobe programs among `ids`. */
export function runTime(ids: Set<number>): { ns: number; runs: number } {
  let ns = 0;
  let runs = 0;
  for (const p of progs()) {
    if (!ids.has(p.id) || p.type !== 'kprobe') continue;
    ns += p.run_time_ns ?? 0;
    runs += p.run_cnt ?? 0;
  }
  return { ns, runs };
}

/** Turns the kernel's per-program accounting on for `fn` (it adds two clock reads per run). */
export async function withBpfStats<T>(fn: () => Promise<T>): Promise<T> {
  const before = readFileSync(SYSCTL, 'utf8').trim();
  writeFileSync(SYSCTL, '1');
  try {
    return await fn();
  } finally {
    writeFileSync(SYSCTL, before);
  }
}

import type { Labels } from '../../engine/model/sample.js';
import type { ProcessInfo } from './processes.js';

export type ProcessLabel = 'pid' | 'comm' | 'exe' | 'container_id';
export const DEFAULT_PROCESS_LABELS: ProcessLabel[] = ['pid', 'comm', 'exe', 'container_id'];

export function processLabels(p: ProcessInfo, which: readonly ProcessLabel[] = DEFAULT_PROCESS_LABELS): Labels {
  const all: Record<ProcessLabel, string | undefined> = { pid: String(p.pid), comm: p.comm, exe: p.exe, container_id: p.containerId };
  const out: Record<string, string> = {};
  for (const k of which) if (all[k] !== undefined) out[k] = all[k]!;
  return out;
}

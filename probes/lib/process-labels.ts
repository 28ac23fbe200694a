import type { PodLookup } from '../../engine/components/contracts.js';
import type { Labels } from '../../engine/model/sample.js';
import type { ProcessInfo } from './processes.js';

export type ProcessLabel = 'pid' | 'comm' | 'exe' | 'container_id' | 'namespace' | 'pod' | 'container';
export const DEFAULT_PROCESS_LABELS: ProcessLabel[] = ['pid', 'comm', 'exe', 'container_id', 'namespace', 'pod', 'container'];

/** Which of a pod's labels and annotations go on its processes' series (probes' k8s_labels, k8s_annotations). */
export interface PodKeys {
  labels: readonly string[];
  annotations: readonly string[];
}

/** kube-state-metrics' spelling of a pod label as a series label: app.kubernetes.io/name → label_app_kubernetes_io_name. */
export function podKeyLabel(prefix: 'label' | 'annotation', key: string): string {
  return `${prefix}_${key.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

export function processLabels(p: ProcessInfo, which: readonly ProcessLabel[] = DEFAULT_PROCESS_LABELS, pods?: PodLookup, podKeys?: PodKeys): Labels {
  const pod = pods?.(p.cgroup);
  const all: Record<ProcessLabel, string | undefined> = {
    pid: String(p.pid),
    comm: p.comm,
    exe: p.exe,
    container_id: p.containerId,
    namespace: pod?.namespace,
    pod: pod?.pod,
    container: pod?.container,
  };
  const out: Record<string, string> = {};
  for (const k of which) if (all[k] !== undefined) out[k] = all[k]!;
  if (pod && podKeys) {
    for (const k of podKeys.labels) if (pod.labels?.[k] !== undefined) out[podKeyLabel('label', k)] = pod.labels[k]!;
    for (const k of podKeys.annotations) if (pod.annotations?.[k] !== undefined) out[podKeyLabel('annotation', k)] = pod.annotations[k]!;
  }
  return out;
}

/**
 * Labels of the processes a probe tracks. A pod's metadata may arrive after its process was
 * found (the pod list refreshes on a timer), so labels stay open until the pod is known,
 * then are fixed: each process's series change labels at most once.
 */
export class ProcessLabeler {
  private readonly procs = new Map<number, { info: ProcessInfo; labels?: Labels }>();

  constructor(
    private readonly which: readonly ProcessLabel[],
    private readonly pods?: PodLookup,
    private readonly podKeys?: PodKeys,
  ) {}

  set(p: ProcessInfo): void {
    this.procs.set(p.pid, { info: p });
  }

  delete(pid: number): void {
    this.procs.delete(pid);
  }

  has(pid: number): boolean {
    return this.procs.has(pid);
  }

  get(pid: number): Labels | undefined {
    const e = this.procs.get(pid);
    if (!e) return undefined;
    if (e.labels) return e.labels;
    const labels = processLabels(e.info, this.which, this.pods, this.podKeys);
    const wantsPod = this.pods && this.which.some((k) => k === 'namespace' || k === 'pod');
    if (!wantsPod || labels.pod !== undefined || !/kubepods/.test(e.info.cgroup)) e.labels = labels;
    return labels;
  }
}

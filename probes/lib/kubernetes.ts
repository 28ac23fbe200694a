import { existsSync, readFileSync } from 'node:fs';
import type { PodMetadata } from '../../engine/components/contracts.js';
import type { Logger } from '../../engine/util/log.js';
import { ListWatch, type KubeObject, type WatchStats } from './kubernetes-watch.js';
import { containerIdOf, podUidOf } from './processes.js';

export interface KubernetesOptions {
  /** API server base URL; default: in-cluster (KUBERNETES_SERVICE_HOST/PORT). */
  apiUrl?: string;
  token?: string;
  /** Read before every request: kubelet rotates projected ServiceAccount tokens. */
  tokenFile?: string;
  ca?: string;
  /** Only pods of this node are watched (NODE_NAME from the downward API). */
  nodeName?: string;
  /** For tests: backoff bounds and the watch's server-side timeout. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  watchTimeoutSeconds?: number;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface Pod extends KubeObject {
  status?: { containerStatuses?: { name: string; containerID?: string }[]; initContainerStatuses?: { name: string; containerID?: string }[] };
}

interface CachedPod {
  namespace: string;
  pod: string;
  containers: Map<string, string>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/**
 * namespace/pod/container for processes, from the pod uid and container id in their cgroup
 * path and a watched cache of this node's pods (LIST once, then WATCH: see kubernetes-watch).
 * Outside a cluster it is inert. A lookup never waits on the network: it answers from the
 * cache, so probes' read loops never block on the API server; when the API server is away the
 * last known pods are kept.
 */
export class KubernetesMetadata {
  private readonly watch?: ListWatch<Pod>;
  private readonly byUid = new Map<string, CachedPod>();
  private lastError?: string;

  constructor(
    private readonly log: Logger,
    opts: KubernetesOptions = fromEnvironment(),
  ) {
    const { apiUrl, nodeName, ...rest } = opts;
    if (!apiUrl) return;
    this.watch = new ListWatch<Pod>(
      { ...rest, apiUrl, path: 'api/v1/pods', ...(nodeName ? { fieldSelector: `spec.nodeName=${nodeName}` } : {}) },
      {
        replace: (pods) => {
          this.byUid.clear();
          for (const p of pods) this.byUid.set(p.metadata.uid, cached(p));
        },
        upsert: (p) => void this.byUid.set(p.metadata.uid, cached(p)),
        remove: (p) => void this.byUid.delete(p.metadata.uid),
        error: (message, hint) => {
          // Say so once per distinct failure, not at every retry.
          if (message !== this.lastError) this.log.warn('cannot watch pods on the API server; keeping the last known pods', { error: message, hint });
          this.lastError = message;
        },
        recovered: () => {
          this.lastError = undefined;
          this.log.info('watching pods again', { pods: this.byUid.size });
        },
      },
    );
  }

  get enabled(): boolean {
    return this.watch !== undefined;
  }

  /** LIST+WATCH counts, for tests and status. */
  get stats(): WatchStats | undefined {
    return this.watch?.stats;
  }

  get podCount(): number {
    return this.byUid.size;
  }

  /** Resolves once the first LIST is in (or failed: the watch keeps retrying). */
  async start(): Promise<void> {
    if (!this.watch) return;
    await this.watch.start();
    if (this.watch.stats.lists > 0 && this.lastError === undefined) this.log.info('watching this node’s pods', { pods: this.byUid.size });
  }

  stop(): void {
    this.watch?.stop();
  }

  /** Pod metadata for a process's cgroup, if it runs in a known pod. */
  lookup(cgroup: string): PodMetadata | undefined {
    const uid = podUidOf(cgroup);
    const pod = uid ? this.byUid.get(uid) : undefined;
    if (!pod) return undefined;
    const cid = containerIdOf(cgroup);
    const container = cid ? pod.containers.get(cid) : undefined;
    return { namespace: pod.namespace, pod: pod.pod, ...(container ? { container } : {}), ...(pod.labels ? { labels: pod.labels } : {}), ...(pod.annotations ? { annotations: pod.annotations } : {}) };
  }
}

/** What a lookup needs of a pod, not the whole object: a node's pods stay a few KB. */
function cached(p: Pod): CachedPod {
  const containers = new Map<string, string>();
  for (const c of [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])]) {
    const id = c.containerID?.replace(/^[a-z-]+:\/\//, '');
    if (id) containers.set(id, c.name);
  }
  return {
    namespace: p.metadata.namespace ?? '',
    pod: p.metadata.name,
    containers,
    ...(p.metadata.labels ? { labels: p.metadata.labels } : {}),
    ...(p.metadata.annotations ? { annotations: shortValues(p.metadata.annotations) } : {}),
  };
}

/**
 * Annotations short enough to be a label value: kubectl's last-applied-configuration and the
 * like hold whole manifests, which would be most of the cache and no use on a series.
 */
function shortValues(a: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(a)) if (v.length <= 1024) out[k] = v;
  return out;
}

function fromEnvironment(): KubernetesOptions {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host || !existsSync(`${SA_DIR}/token`)) return {};
  return {
    apiUrl: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    tokenFile: `${SA_DIR}/token`,
    ...(existsSync(`${SA_DIR}/ca.crt`) ? { ca: readFileSync(`${SA_DIR}/ca.crt`, 'utf8') } : {}),
    ...(process.env.NODE_NAME ? { nodeName: process.env.NODE_NAME } : {}),
  };
}

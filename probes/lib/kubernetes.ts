import { existsSync, readFileSync } from 'node:fs';
import { got, type Got } from 'got';
import type { Logger } from '../../engine/util/log.js';
import { containerIdOf, podUidOf } from './processes.js';

export interface PodMetadata {
  namespace: string;
  pod: string;
  container?: string;
}

export interface KubernetesOptions {
  /** API server base URL; default: in-cluster (KUBERNETES_SERVICE_HOST/PORT). */
  apiUrl?: string;
  token?: string;
  ca?: string;
  /** Only pods of this node are listed (NODE_NAME from the downward API). */
  nodeName?: string;
  refreshMs?: number;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface PodList {
  items: {
    metadata: { name: string; namespace: string; uid: string };
    status?: { containerStatuses?: { name: string; containerID?: string }[]; initContainerStatuses?: { name: string; containerID?: string }[] };
  }[];
}

/**
 * namespace/pod/container for processes, from the pod uid and container id in their cgroup
 * path and a cached list of this node's pods from the API server. Outside a cluster it is
 * inert. A lookup never waits on the network: it answers from the cache, which a timer
 * refreshes, so probes' read loops never block on the API server.
 */
export class KubernetesMetadata {
  private readonly client?: Got;
  private byUid = new Map<string, { namespace: string; pod: string; containers: Map<string, string> }>();
  private timer?: NodeJS.Timeout;
  private lastError?: string;

  constructor(
    private readonly log: Logger,
    private readonly opts: KubernetesOptions = fromEnvironment(),
  ) {
    if (!opts.apiUrl) return;
    this.client = got.extend({
      prefixUrl: opts.apiUrl,
      headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
      https: opts.ca ? { certificateAuthority: opts.ca } : {},
      timeout: { request: 5000 },
      retry: { limit: 1 },
    });
  }

  get enabled(): boolean {
    return this.client !== undefined;
  }

  async start(): Promise<void> {
    if (!this.client) return;
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.opts.refreshMs ?? 30_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async refresh(): Promise<void> {
    if (!this.client) return;
    try {
      const searchParams = this.opts.nodeName ? { fieldSelector: `spec.nodeName=${this.opts.nodeName}` } : {};
      const list = await this.client.get('api/v1/pods', { searchParams }).json<PodList>();
      const next = new Map<string, { namespace: string; pod: string; containers: Map<string, string> }>();
      for (const item of list.items) {
        const containers = new Map<string, string>();
        for (const c of [...(item.status?.containerStatuses ?? []), ...(item.status?.initContainerStatuses ?? [])]) {
          const id = c.containerID?.replace(/^[a-z-]+:\/\//, '');
          if (id) containers.set(id, c.name);
        }
        next.set(item.metadata.uid, { namespace: item.metadata.namespace, pod: item.metadata.name, containers });
      }
      this.byUid = next;
      if (this.lastError) this.log.info('kubernetes metadata available again', { pods: next.size });
      this.lastError = undefined;
    } catch (e) {
      const msg = (e as Error).message;
      // Keep the last good cache; say so once per distinct failure, not every refresh.
      if (msg !== this.lastError) this.log.warn('cannot list pods from the API server; keeping cached pod labels', { error: msg, hint: 'the ServiceAccount needs get/list on pods' });
      this.lastError = msg;
    }
  }

  /** Pod metadata for a process's cgroup, if it runs in a known pod. */
  lookup(cgroup: string): PodMetadata | undefined {
    const uid = podUidOf(cgroup);
    const pod = uid ? this.byUid.get(uid) : undefined;
    if (!pod) return undefined;
    const cid = containerIdOf(cgroup);
    const container = cid ? pod.containers.get(cid) : undefined;
    return { namespace: pod.namespace, pod: pod.pod, ...(container ? { container } : {}) };
  }
}

function fromEnvironment(): KubernetesOptions {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host || !existsSync(`${SA_DIR}/token`)) return {};
  return {
    apiUrl: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    token: readFileSync(`${SA_DIR}/token`, 'utf8').trim(),
    ...(existsSync(`${SA_DIR}/ca.crt`) ? { ca: readFileSync(`${SA_DIR}/ca.crt`, 'utf8') } : {}),
    ...(process.env.NODE_NAME ? { nodeName: process.env.NODE_NAME } : {}),
  };
}

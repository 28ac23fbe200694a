import { mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { KubernetesMetadata } from '../../probes/lib/kubernetes.js';
import { uprobeProbe } from '../../probes/uprobe.js';
import { silentLogger } from '../../engine/util/log.js';
import { runProbe } from '../helpers/probe-harness.js';
import { buildC, startWorkload } from '../helpers/workloads.js';

const UID = '3f1c2a4e-9b7d-4e21-8c55-0a1b2c3d4e5f';
const CID = 'c0ffee'.padEnd(64, '0');

/**
 * The API server's documented pod-list contract, on loopback: no cluster runs here. It checks
 * the request the agent makes (path, node field selector, bearer token) and answers a PodList.
 */
function fakeApiServer(requests: IncomingMessage[], state = { fail: false }) {
  const server = createServer((req, res) => {
    requests.push(req);
    if (state.fail) {
      res.writeHead(503).end('{"kind":"Status","reason":"ServiceUnavailable"}');
      return;
    }
    const url = new URL(req.url!, 'http://x');
    if (url.pathname !== '/api/v1/pods' || req.headers.authorization !== 'Bearer test-token') {
      res.writeHead(403).end('{"kind":"Status","reason":"Forbidden"}');
      return;
    }
    const onNode = url.searchParams.get('fieldSelector') === 'spec.nodeName=node-a';
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        kind: 'PodList',
        apiVersion: 'v1',
        items: onNode
          ? [{ metadata: { name: 'checkout-7d9f', namespace: 'shop', uid: UID }, status: { containerStatuses: [{ name: 'api', containerID: `containerd://${CID}` }] } }]
          : [],
      }),
    );
  });
  return new Promise<{ url: string; close: () => void }>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() })),
  );
}

describe('Kubernetes labels', () => {
  it('labels a process in a kubelet-style cgroup with its namespace, pod and container', async () => {
    const requests: IncomingMessage[] = [];
    const api = await fakeApiServer(requests);
    const kube = new KubernetesMetadata(silentLogger, { apiUrl: api.url, token: 'test-token', nodeName: 'node-a' });
    await kube.start();
    // kubelet's cgroupfs layout on a cgroup v1 node: /kubepods/<qos>/pod<uid>/<container id>
    const dir = `/sys/fs/cgroup/pids/kubepods/besteffort/pod${UID}/${CID}`;
    mkdirSync(dir, { recursive: true });
    const w = await startWorkload(buildC(), 10);
    writeFileSync(`${dir}/cgroup.procs`, String(w.pid));
    const p = runProbe(uprobeProbe, { interval: '100ms', rescan: '50ms', target: { pid: w.pid }, points: [{ name: 'work_calls', symbol: 'work' }] }, { pods: (c) => kube.lookup(c) });
    try {
      await p.tracking(w.pid);
      await w.go();
      await p.waitValue('work_calls_total', w.pid, 10);
      expect(p.sample('work_calls_total', w.pid)!.labels).toMatchObject({ namespace: 'shop', pod: 'checkout-7d9f', container: 'api', container_id: CID });
      expect(requests[0]!.url).toBe('/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a');
    } finally {
      p.stop();
      await w.finish();
      kube.stop();
      api.close();
      for (const d of [dir, `/sys/fs/cgroup/pids/kubepods/besteffort/pod${UID}`, '/sys/fs/cgroup/pids/kubepods/besteffort', '/sys/fs/cgroup/pids/kubepods']) rmdirSync(d);
    }
  });

  it('keeps the last pod list when the API server refuses, and is inert outside a cluster', async () => {
    const requests: IncomingMessage[] = [];
    const state = { fail: false };
    const api = await fakeApiServer(requests, state);
    const kube = new KubernetesMetadata(silentLogger, { apiUrl: api.url, token: 'test-token', nodeName: 'node-a' });
    await kube.start();
    const cgroup = `8:pids:/kubepods/besteffort/pod${UID}/${CID}`;
    expect(kube.lookup(cgroup)).toEqual({ namespace: 'shop', pod: 'checkout-7d9f', container: 'api' });
    state.fail = true;
    const before = requests.length;
    await kube.refresh();
    expect(requests.length).toBeGreaterThan(before);
    expect(kube.lookup(cgroup)?.pod).toBe('checkout-7d9f');
    kube.stop();
    api.close();
    expect(new KubernetesMetadata(silentLogger, {}).enabled).toBe(false);
  });
});

import { mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KubernetesMetadata } from '../../probes/lib/kubernetes.js';
import { uprobeProbe } from '../../probes/uprobe.js';
import { silentLogger } from '../../engine/util/log.js';
import { fakeKubeApi } from '../helpers/fake-kube-api.js';
import { runProbe } from '../helpers/probe-harness.js';
import { buildC, startWorkload } from '../helpers/workloads.js';

const UID = '3f1c2a4e-9b7d-4e21-8c55-0a1b2c3d4e5f';
const CID = 'c0ffee'.padEnd(64, '0');

describe('Kubernetes labels', () => {
  it('labels a process in a kubelet-style cgroup with its namespace, pod, container and the pod labels asked for', async () => {
    // The API server's LIST+WATCH contract on loopback (test/kubernetes-watch.test.ts tests the protocol).
    const api = await fakeKubeApi();
    api.add({ name: 'checkout-7d9f', namespace: 'shop', uid: UID, labels: { app: 'checkout', 'app.kubernetes.io/version': '1.4.2' }, containers: [{ name: 'api', id: CID }] });
    const kube = new KubernetesMetadata(silentLogger, { apiUrl: api.url, token: 'test-token', nodeName: 'node-a' });
    await kube.start();
    // kubelet's cgroupfs layout on a cgroup v1 node: /kubepods/<qos>/pod<uid>/<container id>
    const dir = `/sys/fs/cgroup/pids/kubepods/besteffort/pod${UID}/${CID}`;
    mkdirSync(dir, { recursive: true });
    const w = await startWorkload(buildC(), 10);
    writeFileSync(`${dir}/cgroup.procs`, String(w.pid));
    const p = runProbe(uprobeProbe, { interval: '100ms', rescan: '50ms', target: { pid: w.pid }, points: [{ name: 'work_calls', symbol: 'work' }], k8s_labels: ['app', 'app.kubernetes.io/version', 'absent'] }, { pods: (c) => kube.lookup(c) });
    try {
      await p.tracking(w.pid);
      await w.go();
      await p.waitValue('work_calls_total', w.pid, 10);
      expect(p.sample('work_calls_total', w.pid)!.labels).toMatchObject({ namespace: 'shop', pod: 'checkout-7d9f', container: 'api', container_id: CID, label_app: 'checkout', label_app_kubernetes_io_version: '1.4.2' });
      expect(p.sample('work_calls_total', w.pid)!.labels).not.toHaveProperty('label_absent');
      expect(api.lists()[0]!.params.get('fieldSelector')).toBe('spec.nodeName=node-a');
    } finally {
      p.stop();
      await w.finish();
      kube.stop();
      await api.close();
      for (const d of [dir, `/sys/fs/cgroup/pids/kubepods/besteffort/pod${UID}`, '/sys/fs/cgroup/pids/kubepods/besteffort', '/sys/fs/cgroup/pids/kubepods']) rmdirSync(d);
    }
  });
});

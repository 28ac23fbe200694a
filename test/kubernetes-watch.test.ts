import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KubernetesMetadata } from '../probes/lib/kubernetes.js';
import { processLabels } from '../probes/lib/process-labels.js';
import { captureLogger } from './helpers/capture-logger.js';
import { waitFor } from './helpers/cli.js';
import { fakeKubeApi, type FakeKubeApi, type FakePod } from './helpers/fake-kube-api.js';

const cid = (c: string) => c.repeat(64).slice(0, 64);
const pod = (n: number, extra: Partial<FakePod> = {}): FakePod => ({ name: `api-${n}`, namespace: 'shop', uid: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, containers: [{ name: 'api', id: cid(String(n)) }], ...extra });
/** The cgroup of a pod's container as kubelet's systemd driver names it. */
const cgroupOf = (p: FakePod) => `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${p.uid.replaceAll('-', '_')}.slice/cri-containerd-${p.containers![0]!.id}.scope`;

let api: FakeKubeApi;
let kube: KubernetesMetadata;
afterEach(async () => {
  kube?.stop();
  await api?.close();
});

async function watching(opts: { tokenFile?: string } = {}) {
  const { logger, lines } = captureLogger();
  kube = new KubernetesMetadata(logger, { apiUrl: api.url, nodeName: 'node-a', minBackoffMs: 50, maxBackoffMs: 200, watchTimeoutSeconds: 60, ...(opts.tokenFile ? { tokenFile: opts.tokenFile } : { token: 'test-token' }) });
  await kube.start();
  return lines;
}

describe('Kubernetes pods: LIST with resourceVersion=0, then WATCH from its resourceVersion', () => {
  it('lists from the watch cache, then watches this node’s pods from the list’s resourceVersion', async () => {
    api = await fakeKubeApi();
    api.add(pod(1));
    await watching();
    expect(kube.lookup(cgroupOf(pod(1)))).toEqual({ namespace: 'shop', pod: 'api-1', container: 'api' });
    await waitFor(() => api.watches().length === 1, 2000, 'a watch');
    const [list] = api.lists();
    expect(Object.fromEntries(list!.params)).toEqual({ fieldSelector: 'spec.nodeName=node-a', resourceVersion: '0' });
    const watch = Object.fromEntries(api.watches()[0]!.params);
    expect(watch).toMatchObject({ fieldSelector: 'spec.nodeName=node-a', watch: '1', resourceVersion: '101', allowWatchBookmarks: 'true' });
    // client-go's range: the server ends each watch within 5–10 minutes (here 60–120 s).
    expect(Number(watch.timeoutSeconds)).toBeGreaterThanOrEqual(60);
    expect(Number(watch.timeoutSeconds)).toBeLessThan(120);
    expect(api.lists()[0]!.authorization).toBe('Bearer test-token');
  });

  it('applies ADDED, MODIFIED and DELETED from the stream (events split across chunks), without listing again', async () => {
    api = await fakeKubeApi();
    api.add(pod(1));
    await watching();
    await waitFor(() => api.watches().length === 1, 2000, 'a watch');
    api.add(pod(2));
    await waitFor(() => kube.lookup(cgroupOf(pod(2))) !== undefined, 2000, 'the added pod');
    // A container restarted: a new container id on the same pod.
    const restarted = pod(1, { containers: [{ name: 'api', id: cid('f') }] });
    api.modify(restarted);
    await waitFor(() => kube.lookup(cgroupOf(restarted))?.container === 'api', 2000, 'the restarted container');
    api.remove(pod(2).uid);
    await waitFor(() => kube.lookup(cgroupOf(pod(2))) === undefined, 2000, 'the deleted pod gone');
    expect(kube.podCount).toBe(1);
    expect(api.lists()).toHaveLength(1);
    expect(kube.stats).toMatchObject({ lists: 1, watches: 1, gone: 0, failures: 0 });
  });

  it('after a dropped connection watches again from the last resourceVersion seen (a bookmark’s too), missing nothing', async () => {
    api = await fakeKubeApi();
    api.add(pod(1));
    await watching();
    await waitFor(() => api.watches().length === 1, 2000, 'a watch');
    api.add(pod(2));
    await waitFor(() => kube.podCount === 2, 2000, 'pod 2');
    api.bookmark();
    const bookmarked = String(api.resourceVersion);
    await new Promise((r) => setTimeout(r, 100));
    api.dropWatches();
    // Changes while the agent is disconnected come with the next watch, replayed from its RV.
    api.add(pod(3));
    api.remove(pod(1).uid);
    await waitFor(() => api.watches().length === 2, 2000, 'a second watch');
    expect(api.watches()[1]!.params.get('resourceVersion')).toBe(bookmarked);
    await waitFor(() => kube.podCount === 2 && kube.lookup(cgroupOf(pod(3))) !== undefined && kube.lookup(cgroupOf(pod(1))) === undefined, 2000, 'pod 3 added, pod 1 gone');
    expect(api.lists()).toHaveLength(1);
    expect(kube.stats!.failures).toBe(1);
    // A watch the server ends on its timeout is no failure: straight back to WATCH.
    api.endWatches();
    await waitFor(() => api.watches().length === 3, 2000, 'a third watch');
    expect(kube.stats!.failures).toBe(1);
  });

  for (const goneAs of ['event', 'status'] as const) {
    it(`lists again on 410 Gone (${goneAs === 'event' ? 'an ERROR event in the stream' : 'an HTTP 410'}), then watches from the new list`, async () => {
      api = await fakeKubeApi();
      api.goneAs = goneAs;
      api.add(pod(1));
      await watching();
      await waitFor(() => api.watches().length === 1, 2000, 'a watch');
      // The agent's resourceVersion falls out of the server's window while it is cut off.
      api.add(pod(2));
      await waitFor(() => kube.podCount === 2, 2000, 'pod 2');
      api.compactedBelow = api.resourceVersion + 10;
      api.dropWatches();
      api.remove(pod(1).uid);
      for (let i = 0; i < 10; i++) api.bookmark();
      await waitFor(() => api.lists().length === 2, 3000, 'a second list');
      await waitFor(() => api.watches().length >= 3, 3000, 'a watch after the list');
      expect(api.watches().at(-1)!.params.get('resourceVersion')).toBe(String(api.resourceVersion));
      expect(kube.lookup(cgroupOf(pod(1)))).toBeUndefined();
      expect(kube.lookup(cgroupOf(pod(2)))?.pod).toBe('api-2');
      expect(kube.stats!.gone).toBe(1);
    });
  }

  it('keeps the last known pods while the API server fails, retries with backoff, says so once and when it is back', async () => {
    api = await fakeKubeApi();
    api.add(pod(1));
    const lines = await watching();
    await waitFor(() => api.watches().length === 1, 2000, 'a watch');
    api.failNext(503, 4);
    // …and meanwhile the agent's resourceVersion leaves the server's window.
    api.compactedBelow = api.resourceVersion + 1;
    api.bookmark();
    api.goneAs = 'status';
    api.dropWatches();
    // watch 503 ×4 (backoff 50, 100, 200, 200 ms), then 410 → LIST → WATCH
    await waitFor(() => api.lists().length === 2, 5000, 'a list after the failures');
    expect(kube.lookup(cgroupOf(pod(1)))?.pod).toBe('api-1');
    await waitFor(() => lines.some((l) => l.msg === 'watching pods again'), 2000, 'the recovery logged');
    const warnings = lines.filter((l) => l.msg.startsWith('cannot watch pods'));
    expect(warnings.map((w) => w.fields.error)).toEqual(['watch connection closed', 'watch answered HTTP 503: injected 503']);
    expect(kube.stats).toMatchObject({ failures: 5, gone: 1 });
    await waitFor(() => api.watches().length === 7, 2000, 'the watch after the list');
    expect(api.watches()[6]!.params.get('resourceVersion')).toBe(String(api.resourceVersion));
  });

  it('backs off instead of spinning when even a fresh LIST’s resourceVersion is answered 410', async () => {
    api = await fakeKubeApi();
    api.add(pod(1));
    api.compactedBelow = 1e9;
    await watching();
    await new Promise((r) => setTimeout(r, 600));
    // 50 → 100 → 200 ms backoff: a handful of LISTs, not thousands.
    expect(api.lists().length).toBeGreaterThan(1);
    expect(api.lists().length).toBeLessThan(10);
    expect(kube.lookup(cgroupOf(pod(1)))?.pod).toBe('api-1');
  });

  it('reads a rotated ServiceAccount token from its file for every request', async () => {
    api = await fakeKubeApi({ token: 'token-1' });
    const tokenFile = join(mkdtempSync(join(tmpdir(), 'pf-sa-')), 'token');
    writeFileSync(tokenFile, 'token-1\n');
    api.add(pod(1));
    await watching({ tokenFile });
    await waitFor(() => api.watches().length === 1, 2000, 'a watch');
    writeFileSync(tokenFile, 'token-2\n');
    api.token = 'token-2';
    api.dropWatches();
    await waitFor(() => api.watches().length === 2, 2000, 'a second watch');
    expect(api.watches().map((w) => w.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
    await new Promise((r) => setTimeout(r, 100));
    expect(kube.stats!.failures).toBe(1);
  });

  it('puts the pod labels and annotations a probe asks for on its series, kube-state-metrics style', async () => {
    api = await fakeKubeApi();
    const p = pod(1, { labels: { app: 'checkout', 'app.kubernetes.io/version': '1.4.2', unasked: 'x' }, annotations: { team: 'payments', 'kubectl.kubernetes.io/last-applied-configuration': '{'.padEnd(4096, ' ') + '}' } });
    api.add(p);
    await watching();
    const info = { pid: 42, comm: 'api', exe: '/api', binaryId: '', startTime: 0, cgroup: cgroupOf(p) };
    const lookup = (c: string) => kube.lookup(c);
    expect(processLabels(info, ['pid', 'namespace', 'pod'], lookup)).toEqual({ pid: '42', namespace: 'shop', pod: 'api-1' });
    expect(processLabels(info, ['pid', 'pod'], lookup, { labels: ['app', 'app.kubernetes.io/version', 'missing'], annotations: ['team', 'kubectl.kubernetes.io/last-applied-configuration'] })).toEqual({
      pid: '42',
      pod: 'api-1',
      label_app: 'checkout',
      label_app_kubernetes_io_version: '1.4.2',
      annotation_team: 'payments',
    });
  });

  it('is inert outside a cluster', () => {
    expect(new KubernetesMetadata(captureLogger().logger, {}).enabled).toBe(false);
  });
});

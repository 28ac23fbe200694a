import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * The API server's documented pod LIST+WATCH contract, on loopback: no cluster runs here.
 * LIST answers a PodList at the current resourceVersion; WATCH streams the events after the
 * asked-for resourceVersion as newline-delimited JSON over a chunked response, each event
 * split across two chunks (and a BOOKMARK now and then), then keeps the stream open for new
 * ones. A resourceVersion older than `compactedBelow` is answered 410 Gone — as an ERROR event
 * in a 200 stream (what a running API server sends) or as an HTTP 410 (`goneAs`).
 */
export interface FakePod {
  name: string;
  namespace: string;
  uid: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  containers?: { name: string; id: string }[];
}

export interface Request {
  path: string;
  params: URLSearchParams;
  authorization?: string;
}

export interface FakeKubeApi {
  url: string;
  requests: Request[];
  lists: () => Request[];
  watches: () => Request[];
  /** The next LIST or WATCH requests get this HTTP status (counted down per request). */
  failNext(status: number, times?: number): void;
  token: string;
  compactedBelow: number;
  goneAs: 'event' | 'status';
  resourceVersion: number;
  add(p: FakePod): void;
  modify(p: FakePod): void;
  remove(uid: string): void;
  bookmark(): void;
  /** Cuts every open watch mid-stream, as a restarting API server or a load balancer does. */
  dropWatches(): void;
  /** Ends every open watch cleanly, as the server's timeoutSeconds does. */
  endWatches(): void;
  close(): Promise<void>;
}

function podObject(p: FakePod, rv: number) {
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: { name: p.name, namespace: p.namespace, uid: p.uid, resourceVersion: String(rv), ...(p.labels ? { labels: p.labels } : {}), ...(p.annotations ? { annotations: p.annotations } : {}) },
    spec: { nodeName: 'node-a' },
    status: { containerStatuses: (p.containers ?? []).map((c) => ({ name: c.name, containerID: `containerd://${c.id}` })) },
  };
}

export async function fakeKubeApi(opts: { node?: string; token?: string } = {}): Promise<FakeKubeApi> {
  const node = opts.node ?? 'node-a';
  const pods = new Map<string, FakePod>();
  const log: { rv: number; type: string; object: unknown }[] = [];
  const watchers = new Set<{ res: ServerResponse; socket: Socket }>();
  const failures: number[] = [];
  const api: FakeKubeApi = {
    url: '',
    requests: [],
    lists: () => api.requests.filter((r) => r.params.get('watch') !== '1'),
    watches: () => api.requests.filter((r) => r.params.get('watch') === '1'),
    failNext: (status, times = 1) => failures.push(...Array<number>(times).fill(status)),
    token: opts.token ?? 'test-token',
    compactedBelow: 0,
    goneAs: 'event',
    resourceVersion: 100,
    add: (p) => emit('ADDED', p),
    modify: (p) => emit('MODIFIED', p),
    remove: (uid) => {
      const p = pods.get(uid);
      if (p) emit('DELETED', p);
    },
    bookmark: () => {
      const object = { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: String(++api.resourceVersion) } };
      for (const w of watchers) send(w.res, { type: 'BOOKMARK', object });
    },
    dropWatches: () => {
      for (const w of watchers) w.socket.destroy();
      watchers.clear();
    },
    endWatches: () => {
      for (const w of watchers) void (queues.get(w.res) ?? Promise.resolve()).then(() => w.res.end());
      watchers.clear();
    },
    close: () =>
      new Promise((r) => {
        api.dropWatches();
        server.close(() => r());
        server.closeAllConnections();
      }),
  };

  function emit(type: string, p: FakePod) {
    const rv = ++api.resourceVersion;
    if (type === 'DELETED') pods.delete(p.uid);
    else pods.set(p.uid, p);
    const event = { rv, type, object: podObject(p, rv) };
    log.push(event);
    for (const w of watchers) send(w.res, { type, object: event.object });
  }

  // Per stream, in order: each event split across two chunks a few ms apart, so a client that
  // parses per chunk breaks here.
  const queues = new WeakMap<ServerResponse, Promise<void>>();
  function send(res: ServerResponse, event: unknown) {
    const line = JSON.stringify(event) + '\n';
    const cut = Math.floor(line.length / 2);
    const write = (part: string) => () => new Promise<void>((r) => (res.writable ? res.write(part, () => setTimeout(r, 5)) : r()));
    queues.set(res, (queues.get(res) ?? Promise.resolve()).then(write(line.slice(0, cut))).then(write(line.slice(cut))));
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const r: Request = { path: url.pathname, params: url.searchParams, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) };
    api.requests.push(r);
    const status = failures.shift();
    if (status) {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', status: 'Failure', code: status, message: `injected ${status}` }));
      return;
    }
    if (url.pathname !== '/api/v1/pods' || req.headers.authorization !== `Bearer ${api.token}`) {
      res.writeHead(403, { 'content-type': 'application/json' }).end('{"kind":"Status","code":403,"reason":"Forbidden","message":"pods is forbidden"}');
      return;
    }
    const onNode = url.searchParams.get('fieldSelector') === `spec.nodeName=${node}`;
    if (url.searchParams.get('watch') !== '1') {
      const items = onNode ? [...pods.values()].map((p) => podObject(p, api.resourceVersion)) : [];
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(api.resourceVersion) }, items }));
      return;
    }
    const from = Number(url.searchParams.get('resourceVersion'));
    const gone = { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: `too old resource version: ${from} (${api.compactedBelow})` };
    if (from < api.compactedBelow && api.goneAs === 'status') {
      res.writeHead(410, { 'content-type': 'application/json' }).end(JSON.stringify(gone));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    if (from < api.compactedBelow) {
      res.end(JSON.stringify({ type: 'ERROR', object: gone }) + '\n');
      return;
    }
    const w = { res, socket: req.socket };
    watchers.add(w);
    res.on('close', () => watchers.delete(w));
    if (onNode) for (const e of log) if (e.rv > from) send(res, { type: e.type, object: e.object });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return api;
}

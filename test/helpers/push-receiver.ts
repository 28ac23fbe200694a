import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { decodeWriteRequest } from '../../sinks/lib/remote-write-encoder.js';

export interface Received<R = ReturnType<typeof decodeWriteRequest>> {
  at: number;
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  request?: R;
}

/**
 * A push receiver on loopback that decodes what it is sent and answers with scripted
 * responses, for the checks the compliance suites make.
 */
export class RecordingReceiver<R> {
  readonly received: Received<R>[] = [];
  /** Responses to give, in order; after they run out: `fallback`. */
  script: { status: number; headers?: Record<string, string>; body?: Buffer }[] = [];
  private server?: Server;
  port = 0;

  constructor(
    private readonly decode: (body: Buffer, headers: IncomingHttpHeaders) => R,
    private readonly path: string,
    private readonly fallback: { status: number; headers?: Record<string, string>; body?: Buffer },
  ) {}

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const next = this.script.shift() ?? this.fallback;
        const r: Received<R> = { at: Date.now(), status: next.status, headers: req.headers, body };
        try {
          r.request = this.decode(body, req.headers);
        } catch {
          // Left undefined: the test sees the body did not decode.
        }
        this.received.push(r);
        res.writeHead(next.status, next.headers ?? {}).end(next.body ?? (next.status >= 400 ? `status ${next.status}` : ''));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}${this.path}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}

/** remote_write: snappy block + protobuf, 204 when the script runs out. */
export class RemoteWriteReceiver extends RecordingReceiver<ReturnType<typeof decodeWriteRequest>> {
  constructor() {
    super((body) => decodeWriteRequest(body), '/api/v1/write', { status: 204 });
  }

  /** Samples of every accepted (2xx) request, in arrival order. */
  samples(): { labels: Record<string, string>; value: number; timestamp: number }[] {
    return this.received
      .filter((r) => r.request && r.status < 300)
      .flatMap((r) => r.request!.timeseries.flatMap((ts) => ts.samples.map((s) => ({ labels: Object.fromEntries(ts.labels.map((l) => [l.name, l.value])), value: s.value, timestamp: s.timestamp }))));
  }
}

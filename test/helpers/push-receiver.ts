import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { decodeWriteRequest } from '../../sinks/lib/remote-write-encoder.js';

export interface Received {
  at: number;
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  request?: ReturnType<typeof decodeWriteRequest>;
}

/**
 * A remote_write receiver on loopback that decodes the wire bytes (snappy block + protobuf)
 * and answers with scripted responses, for the checks the compliance suite makes.
 */
export class RemoteWriteReceiver {
  readonly received: Received[] = [];
  /** Responses to give, in order; after they run out: 204. */
  script: { status: number; headers?: Record<string, string> }[] = [];
  private server?: Server;
  port = 0;

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const next = this.script.shift() ?? { status: 204 };
        const r: Received = { at: Date.now(), status: next.status, headers: req.headers, body };
        try {
          r.request = decodeWriteRequest(body);
        } catch {
          // Left undefined: the test sees the body did not decode.
        }
        this.received.push(r);
        res.writeHead(next.status, next.headers ?? {}).end(next.status >= 400 ? `status ${next.status}` : '');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/api/v1/write`;
  }

  /** Samples of every accepted (2xx) request, in arrival order. */
  samples(): { labels: Record<string, string>; value: number; timestamp: number }[] {
    return this.received
      .filter((r) => r.request && r.status < 300)
      .flatMap((r) => r.request!.timeseries.flatMap((ts) => ts.samples.map((s) => ({ labels: Object.fromEntries(ts.labels.map((l) => [l.name, l.value])), value: s.value, timestamp: s.timestamp }))));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}

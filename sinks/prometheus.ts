import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { timingSafeEqual } from 'node:crypto';
import { finished } from 'node:stream/promises';
import { promisify } from 'node:util';
import { gzip as gzipCallback, constants as zlib } from 'node:zlib';
import type { SinkFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { PrometheusSinkConfig } from '../schemas/types.generated.js';
import { kinds } from '../engine/model/kinds.js';
import { parseDuration } from '../engine/util/duration.js';
import { exposition, OPENMETRICS_CONTENT_TYPE, SeriesStore, TEXT_CONTENT_TYPE } from './lib/exposition.js';
import { selfMetricSamples } from './lib/self-metric-samples.js';
import { parseListen } from '../engine/util/listen-address.js';
import { acceptsGzip } from './lib/accept-encoding.js';

const gzip = promisify(gzipCallback);
const GZIP_CHUNK = 128 * 1024;

export const prometheusSink: SinkFactory<PrometheusSinkConfig> = {
  kind: 'sink',
  type: 'prometheus',
  description: 'Scrape endpoint (/metrics, text or OpenMetrics, gzip when asked) with per-series TTL, /healthz, /readyz, optional basic auth/TLS',
  schema: loadComponentSchema('sink', 'prometheus'),
  accepts: () => kinds('counter', 'gauge', 'histogram'),
  check(config) {
    try {
      parseListen(config.listen ?? ':9464');
      return [];
    } catch (e) {
      return [{ path: ['listen'], message: (e as Error).message }];
    }
  },
  // By port alone: `:9464` and `127.0.0.1:9464` collide, and a false collision costs only a
  // moment without an endpoint during the handover.
  claims: (config) => [`tcp:${parseListen(config.listen ?? ':9464').port}`],
  create(config, ctx) {
    const store = new SeriesStore(parseDuration(config.series_ttl ?? '5m'));
    const self = new SeriesStore(Infinity);
    const path = config.path ?? '/metrics';
    const { host, port } = parseListen(config.listen ?? ':9464');
    let server: Server | undefined;
    let ready = false;
    const expected = config.basic_auth
      ? Buffer.from(`Basic ${Buffer.from(`${config.basic_auth.username}:${config.basic_auth.password_file ? readFileSync(config.basic_auth.password_file, 'utf8').trim() : (config.basic_auth.password ?? '')}`).toString('base64')}`)
      : undefined;
    const authorized = (req: IncomingMessage) => {
      if (!expected) return true;
      const got = Buffer.from(req.headers.authorization ?? '');
      return got.length === expected.length && timingSafeEqual(got, expected);
    };

    const handle = async (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      if (url.pathname === '/readyz') return void res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
      if (url.pathname !== path) return void res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: metrics are at ${path}\n`);
      if (!authorized(req)) return void res.writeHead(401, { 'www-authenticate': 'Basic realm="probeflow"' }).end();
      if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
      const om = /application\/openmetrics-text/.test(req.headers.accept ?? '');
      const format = om ? 'openmetrics' : 'text';
      store.expire();
      // The engine's own metrics through the same encoder, so both formats stay valid.
      if (config.self_metrics ?? true) self.replace(await selfMetricSamples(ctx.metrics.registry));
      const headers: Record<string, string> = { 'content-type': om ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE, vary: 'Accept-Encoding' };
      const gzipped = acceptsGzip(req.headers['accept-encoding']);
      if (gzipped) headers['content-encoding'] = 'gzip';
      if (req.method === 'HEAD') return void res.writeHead(200, headers).end();
      // Rendered natively into the store's buffer (100k series is ~7 MB), then written whole: no
      // string per line, no stream of pieces. The buffer goes back to the store once it is out.
      const body = exposition(format, [store, self], om ? '# EOF\n' : '');
      try {
        // The fastest level: text exposition compresses ~20× even so, and the agent's CPU is the
        // node owner's. zlib works on the thread pool, beside the event loop; its output in
        // 128 KiB chunks, which hold a 100-process body's (~80 KB of 2 MB) whole: at the default
        // 16 KiB, gzip cost ~10% more CPU in its round trips through the event loop.
        const bytes = gzipped ? await gzip(body.bytes, { level: zlib.Z_BEST_SPEED, chunkSize: GZIP_CHUNK }) : body.bytes;
        if (gzipped) body.release();
        res.writeHead(200, { ...headers, 'content-length': String(bytes.length) }).end(bytes);
        await finished(res);
        body.release();
      } catch (e) {
        // The scraper went away (its scrape_timeout passed): nothing to answer any more.
        if ((e as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw e;
        ctx.log.debug('scrape ended by the client before its body was sent', { path });
      }
    };

    return {
      start: () =>
        new Promise<void>((resolve, reject) => {
          const listener = (req: IncomingMessage, res: ServerResponse) =>
            handle(req, res).catch((e) => {
              ctx.log.error('scrape failed', { error: e });
              if (!res.headersSent) res.writeHead(500).end();
            });
          server = config.tls ? createHttpsServer({ cert: readFileSync(config.tls.cert_file), key: readFileSync(config.tls.key_file) }, listener) : createHttpServer(listener);
          server.once('error', (e: NodeJS.ErrnoException) =>
            reject(new Error(e.code === 'EADDRINUSE' ? `listen ${config.listen ?? ':9464'}: address already in use; pick another port with listen:` : `listen ${config.listen ?? ':9464'}: ${e.message}`)),
          );
          server.listen(port, host, () => {
            ready = true;
            ctx.log.info('prometheus endpoint listening', { address: `${config.tls ? 'https' : 'http'}://${host ?? '0.0.0.0'}:${port}${path}` });
            resolve();
          });
        }),
      write(batch) {
        store.update(batch);
      },
      // Scraped, not pushed: nothing to deliver.
      flush: async () => true,
      stop: () =>
        new Promise<void>((resolve) => {
          ready = false;
          if (!server) return resolve();
          server.close(() => resolve());
          server.closeAllConnections?.();
        }),
    };
  },
};

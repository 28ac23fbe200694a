import { createServer, type Server } from 'node:http';
import { parseListen } from '../util/listen-address.js';
import type { Logger } from '../util/log.js';
import type { Engine } from './engine.js';
import type { Reloader } from './reloader.js';

/**
 * Why the agent is not ready, one line per component that is down: a probe the kernel
 * refused, a sink that could not start. Empty when everything runs. A DaemonSet pod that
 * is running but not Ready is how a node says "look at me" without a restart loop.
 */
export function notReady(engine: Engine): string[] {
  return engine.down().map((c) => `${c.kind} ${c.id} (${c.type}) down: ${c.error}`);
}

/**
 * The agent's own port: liveness/readiness for the DaemonSet, the engine's metrics, and
 * POST /-/reload. Binds loopback unless told otherwise.
 */
export function startEngineHttp(listen: string, engine: Engine, reloader: Reloader, log: Logger): Promise<Server> {
  const { host, port } = parseListen(listen);
  let ready = false;
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    try {
      if (path === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      if (path === '/readyz') {
        const down = ready ? notReady(engine) : ['starting'];
        return void res.writeHead(down.length ? 503 : 200, { 'content-type': 'text/plain' }).end(down.length ? `not ready\n${down.join('\n')}\n` : 'ready\n');
      }
      if (path === '/metrics') {
        return void res.writeHead(200, { 'content-type': engine.metrics.registry.contentType }).end(await engine.metrics.registry.metrics());
      }
      if (path === '/-/reload') {
        if (req.method !== 'POST' && req.method !== 'PUT') return void res.writeHead(405, { allow: 'POST, PUT' }).end('use POST\n');
        const result = await reloader.request('http');
        return void res.writeHead(result.ok ? 200 : 400, { 'content-type': 'application/json' }).end(JSON.stringify(result) + '\n');
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('endpoints: /healthz /readyz /metrics POST /-/reload\n');
    } catch (e) {
      log.error('engine http request failed', { path, error: e });
      if (!res.headersSent) res.writeHead(500).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new Error(`--http-listen ${listen}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}`)));
    server.listen(port, host, () => {
      ready = true;
      log.info('engine endpoint listening', { address: `http://${host ?? '0.0.0.0'}:${port}`, paths: ['/healthz', '/readyz', '/metrics', 'POST /-/reload'] });
      resolve(server);
    });
  });
}

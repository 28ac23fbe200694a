import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * LIST+WATCH of one resource collection, the protocol client-go's reflector speaks, by hand:
 * `@kubernetes/client-node` costs +71 MB of RSS and 0.3 s just to import (1.4.0, measured
 * here), more than the whole agent may use, and 2.x does not load on Node 20.
 *
 *   LIST  ?resourceVersion=0            served from the API server's watch cache, not a quorum
 *                                       read through to etcd: every node does this
 *   WATCH ?watch=1&resourceVersion=RV   from the list's RV, bookmarks on, a server-side timeout
 *                                       (randomized, as client-go's 5–10 min) ends it cleanly
 *   a watch that ends or drops           re-WATCH from the last RV seen (event or bookmark)
 *   410 Gone (response or ERROR event)   the RV is too old: LIST again, then WATCH
 *   any other failure                    the same step again after a backoff (1 s … 30 s)
 */
export interface WatchOptions {
  apiUrl: string;
  /** e.g. /api/v1/pods */
  path: string;
  fieldSelector?: string;
  /** A bearer token, or the file it is in: a projected ServiceAccount token rotates, so it is read per request. */
  token?: string;
  tokenFile?: string;
  ca?: string;
  /** Per request: connect and response headers for both, and each list body. */
  requestTimeoutMs?: number;
  /** Backoff bounds after a failure. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** WATCH's timeoutSeconds: a random value in [min, 2·min). */
  watchTimeoutSeconds?: number;
}

export interface KubeObject {
  metadata: { name: string; namespace?: string; uid: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

export interface WatchHandlers<T extends KubeObject> {
  /** The whole collection, after every LIST: replaces what came before. */
  replace(items: T[]): void;
  upsert(item: T): void;
  remove(item: T): void;
  /** A failure the watch recovers from by itself; for logs. */
  error(message: string, hint?: string): void;
  /** A LIST or a watch event got through after failures; for logs. */
  recovered?(): void;
}

export interface WatchStats {
  lists: number;
  watches: number;
  /** LISTs forced by 410 Gone. */
  gone: number;
  events: number;
  failures: number;
}

class GoneError extends Error {
  constructor() {
    super('resourceVersion too old (410 Gone), again right after a LIST');
  }
}

export class ListWatch<T extends KubeObject> {
  readonly stats: WatchStats = { lists: 0, watches: 0, gone: 0, events: 0, failures: 0 };
  private resourceVersion?: string;
  private stopped = false;
  private current?: { destroy(): void };
  private timer?: NodeJS.Timeout;
  private backoffMs: number;
  private firstList?: { resolve(): void };
  private failing = false;
  /** 410s since a watch last delivered: a second means even a fresh LIST's version is gone. */
  private goneInARow = 0;

  private readonly opts: Required<Pick<WatchOptions, 'requestTimeoutMs' | 'minBackoffMs' | 'maxBackoffMs' | 'watchTimeoutSeconds'>> & WatchOptions;

  constructor(
    opts: WatchOptions,
    private readonly on: WatchHandlers<T>,
  ) {
    this.opts = { requestTimeoutMs: 10_000, minBackoffMs: 1000, maxBackoffMs: 30_000, watchTimeoutSeconds: 300, ...opts };
    this.backoffMs = this.opts.minBackoffMs;
  }

  /** Resolves after the first LIST has filled the cache, or the first failure (the loop keeps trying). */
  start(): Promise<void> {
    return new Promise((resolve) => {
      this.firstList = { resolve };
      void this.loop();
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.current?.destroy();
    this.firstList?.resolve();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.resourceVersion === undefined) {
          await this.list();
          this.recovering();
          this.firstList?.resolve();
          this.firstList = undefined;
        }
        await this.watch();
        // A clean end (the server's timeout): straight back to WATCH from where it left off.
        this.progressed();
      } catch (e) {
        if (this.stopped) return;
        // A resourceVersion gone from the server's window: LIST again, at once — unless the
        // LIST just made was gone too, which no quick retry fixes: then back off as for a failure.
        if (e instanceof GoneError) {
          this.stats.gone++;
          this.resourceVersion = undefined;
          if (++this.goneInARow === 1) continue;
        }
        this.stats.failures++;
        this.failing = true;
        this.on.error((e as Error).message, 'retrying with backoff; on 401/403 the ServiceAccount needs list and watch on pods');
        this.firstList?.resolve();
        this.firstList = undefined;
        await this.sleep(this.backoffMs);
        this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    // Jitter, so a fleet of agents does not come back in step after an API server restart.
    return new Promise((r) => (this.timer = setTimeout(r, ms * (0.75 + Math.random() * 0.5))));
  }

  private url(params: Record<string, string>): URL {
    const u = new URL(this.opts.path, this.opts.apiUrl.endsWith('/') ? this.opts.apiUrl : this.opts.apiUrl + '/');
    if (this.opts.fieldSelector) u.searchParams.set('fieldSelector', this.opts.fieldSelector);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return u;
  }

  private async list(): Promise<void> {
    this.stats.lists++;
    const res = await this.get(this.url({ resourceVersion: '0' }));
    const body = await readBody(res, this.opts.requestTimeoutMs);
    if (res.statusCode !== 200) throw statusError('list', res.statusCode!, body);
    const list = JSON.parse(body) as { metadata?: { resourceVersion?: string }; items?: T[] };
    this.on.replace(list.items ?? []);
    this.resourceVersion = list.metadata?.resourceVersion ?? '0';
  }

  private async watch(): Promise<void> {
    this.stats.watches++;
    const min = this.opts.watchTimeoutSeconds;
    const timeoutSeconds = Math.floor(min + Math.random() * min);
    const res = await this.get(this.url({ watch: '1', resourceVersion: this.resourceVersion!, allowWatchBookmarks: 'true', timeoutSeconds: String(timeoutSeconds) }));
    if (res.statusCode === 410) {
      res.resume();
      throw new GoneError();
    }
    if (res.statusCode !== 200) throw statusError('watch', res.statusCode!, await readBody(res, this.opts.requestTimeoutMs));
    // The server ends the watch after timeoutSeconds; silence well past it is a dead connection.
    res.socket?.setTimeout((timeoutSeconds + 30) * 1000, () => res.destroy(new Error(`watch silent for ${timeoutSeconds + 30} s`)));
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        let nl: number;
        // One JSON object per line; a chunk may end mid-object, or hold several.
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (!line) continue;
          try {
            this.event(JSON.parse(line) as WatchEvent<T>);
          } catch (e) {
            res.destroy();
            reject(e);
            return;
          }
        }
      });
      const dropped = new Error('watch connection closed');
      res.on('end', resolve);
      // 'aborted' / ECONNRESET are one thing to an operator: the connection went away.
      res.on('error', (e: NodeJS.ErrnoException) => reject(e.message === 'aborted' || e.code === 'ECONNRESET' ? dropped : e));
      res.on('close', () => reject(dropped));
    });
  }

  private event(e: WatchEvent<T>): void {
    this.stats.events++;
    if (e.type === 'ERROR') {
      const status = e.object as unknown as { code?: number; message?: string };
      if (status.code === 410) throw new GoneError();
      throw new Error(`watch ERROR ${status.code ?? ''}: ${status.message ?? JSON.stringify(status)}`);
    }
    const rv = e.object?.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (e.type === 'ADDED' || e.type === 'MODIFIED') this.on.upsert(e.object);
    else if (e.type === 'DELETED') this.on.remove(e.object);
    // BOOKMARK: only its resourceVersion matters, taken above.
    this.progressed();
  }

  /** Only a watch that delivers resets the backoff: a LIST that works before a watch that fails does not. */
  private progressed(): void {
    this.backoffMs = this.opts.minBackoffMs;
    this.goneInARow = 0;
    this.recovering();
  }

  private recovering(): void {
    if (!this.failing) return;
    this.failing = false;
    this.on.recovered?.();
  }

  /** One connection per request (agent: false): a watch holds its own for minutes. */
  private get(url: URL): Promise<IncomingMessage> {
    const token = this.opts.tokenFile ? readFileSync(this.opts.tokenFile, 'utf8').trim() : this.opts.token;
    const https = url.protocol === 'https:';
    const timeoutMs = this.opts.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(url, {
        headers: { accept: 'application/json', 'user-agent': 'probeflow', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        ...(https && this.opts.ca ? { ca: this.opts.ca } : {}),
        agent: false,
        timeout: timeoutMs,
      });
      req.once('response', (res) => {
        req.setTimeout(0);
        resolve(res);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${url.origin} within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
      this.current = req;
    });
  }
}

interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

function readBody(res: IncomingMessage, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const timer = setTimeout(() => res.destroy(new Error(`response body not complete within ${timeoutMs} ms`)), timeoutMs);
    res.on('data', (b: Buffer) => parts.push(b));
    res.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(parts).toString('utf8'));
    });
    res.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function statusError(what: string, code: number, body: string): Error {
  let message = body.slice(0, 200);
  try {
    message = (JSON.parse(body) as { message?: string; reason?: string }).message ?? message;
  } catch {}
  return new Error(`${what} answered HTTP ${code}${message ? `: ${message}` : ''}`);
}

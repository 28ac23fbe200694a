/**
 * Many series in the Prometheus endpoint, against what a user would otherwise pick: the same
 * series held and rendered by prom-client. Each side runs in a process of its own (RSS growth
 * is then that side's state and its scrapes' garbage, input excluded) and is scraped over HTTP
 * from this one, as Prometheus would; latency is until the whole body has arrived.
 */
import { fork } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { median, ROOT, table } from './lib.js';

const SCRAPES = 5;

function scrape(port: number, gzip = false): Promise<{ ms: number; bytes: number }> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics', headers: gzip ? { 'accept-encoding': 'gzip' } : {} }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ ms: performance.now() - t, bytes }));
    })
      .on('error', reject)
      .end();
  });
}

interface SideResult {
  firstUpdate: number;
  update: number;
  scrape: number;
  bytes: number;
  /** Asking for gzip, as Prometheus does; prom-client alone does not compress. */
  gzipScrape?: number;
  gzipBytes?: number;
  rssGrowth: number;
  rssGrowthAfterGc: number;
}

async function side(impl: 'probeflow' | 'prom-client', n: number, port: number): Promise<SideResult> {
  const child = fork(join(ROOT, 'bench', 'series-scale-worker.ts'), [impl, String(n), String(port)], { execArgv: ['--expose-gc', '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = () => new Promise<Record<string, number>>((r) => child.once('message', (m) => r(m as Record<string, number>)));
  const ready = await next();
  const scrapes: { ms: number; bytes: number }[] = [];
  for (let i = 0; i < SCRAPES; i++) scrapes.push(await scrape(port));
  const gzipped: { ms: number; bytes: number }[] = [];
  if (impl === 'probeflow') for (let i = 0; i < SCRAPES; i++) gzipped.push(await scrape(port, true));
  child.send('memory');
  const memory = await next();
  child.send('exit');
  await new Promise((r) => child.once('exit', r));
  return { firstUpdate: ready.firstUpdate!, update: ready.update!, scrape: median(scrapes.map((s) => s.ms)), bytes: scrapes[0]!.bytes, ...(gzipped.length && { gzipScrape: median(gzipped.map((s) => s.ms)), gzipBytes: gzipped[0]!.bytes }), rssGrowth: memory.rssGrowth!, rssGrowthAfterGc: memory.rssGrowthAfterGc! };
}

export async function seriesScale(): Promise<string> {
  const rows: string[][] = [];
  const ratios: string[][] = [];
  const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;
  for (const n of [1_000, 10_000, 100_000]) {
    const results = { probeflow: await side('probeflow', n, 19_700), 'prom-client': await side('prom-client', n, 19_701) };
    for (const [impl, r] of Object.entries(results)) {
      rows.push([String(n), impl, `${r.firstUpdate.toFixed(0)} ms`, `${r.update.toFixed(1)} ms`, `${r.scrape.toFixed(1)} ms`, `${(r.bytes / 1e6).toFixed(1)} MB`, r.gzipScrape === undefined ? 'n/a' : `${r.gzipScrape.toFixed(1)} ms (${(r.gzipBytes! / 1e6).toFixed(2)} MB)`, mb(r.rssGrowth), mb(r.rssGrowthAfterGc)]);
    }
    const [p, c] = [results.probeflow, results['prom-client']];
    ratios.push([String(n), `${(c.update / p.update).toFixed(1)}×`, `${(c.scrape / p.scrape).toFixed(1)}×`, `${(c.rssGrowth / p.rssGrowth).toFixed(1)}×`]);
  }
  return [
    table(['series', 'holds them', 'first update', 'update (all series, best of 2)', `scrape over HTTP (median of ${SCRAPES})`, 'exposition size', 'scrape with gzip (size)', 'RSS growth after all scrapes', '…after a full GC'], rows),
    '',
    table(['series', 'prom-client ÷ probeflow: update time', 'scrape time', 'RSS growth'], ratios),
  ].join('\n');
}

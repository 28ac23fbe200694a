import { spawnProbeflow, waitFor } from './cli.js';

export type Log = { msg: string; level: string } & Record<string, unknown>;

/** `probeflow run` with JSON logs and its engine endpoint on `httpPort`; its log lines parsed. */
export function runAgent(config: string, httpPort: number, extra: string[] = []) {
  const child = spawnProbeflow(['run', '-c', config, '--log-format', 'json', '--http-listen', `127.0.0.1:${httpPort}`, ...extra]);
  const logs = (): Log[] =>
    child
      .output()
      .stderr.split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Log);
  const waitLog = (msg: string, n = 1) => waitFor(() => logs().filter((l) => l.msg === msg).length >= n, 15_000, `log "${msg}" ×${n}`);
  return { child, logs, waitLog };
}

export const scrape = async (port: number, path = '/metrics') => (await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) })).text();
export const metricValue = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);

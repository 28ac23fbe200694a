import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, scrape } from '../helpers/agent.js';
import { ROOT, exited, waitFor } from '../helpers/cli.js';
import { settledKernelObjects } from '../helpers/kernel-objects.js';
import { requireTool } from '../helpers/require-tool.js';
import { freePort, promQuery, startPrometheus, type RunningServer } from '../helpers/servers.js';
import { buildDemoWorkload } from '../helpers/workloads.js';

/**
 * The go-runtime pipeline as an operator runs it: the agent (`probeflow run`) on the demo Go
 * workload, scraped by a real Prometheus. Its exposition goes through promtool's lint, and
 * every query of the shipped Grafana dashboards runs against what Prometheus stored.
 */
let workload: ChildProcess;
let agent: ReturnType<typeof runAgent>;
let prom: RunningServer;
let scrapePort: number;
let clientGolangPort: number;
let startedAt: number;

beforeAll(async () => {
  requireTool('prometheus');
  workload = spawn(buildDemoWorkload(), [], { stdio: 'ignore', env: { ...process.env, GOMAXPROCS: '2' } });
  [scrapePort, clientGolangPort] = [await freePort(), await freePort()];
  prom = await startPrometheus([`127.0.0.1:${scrapePort}`]);
  const config = join(mkdtempSync(join(tmpdir(), 'probeflow-scraped-')), 'pipeline.yaml');
  // The shipped pipeline (every metric on, the opt-in ones too, so every panel has data), a
  // second probe under the client_golang names, and a remote_write sink into the same
  // Prometheus so the agent dashboard's delivery panels have a sink to show.
  writeFileSync(
    config,
    `
probes:
  go:
    type: go_runtime
    target: { pid: ${workload.pid} }
    metrics: [blocked, gc_pauses, gc_cycles, runqueue, m_nonidle, goroutines, alloc, goroutine_churn, threads, gomaxprocs, gc_controller, sched_latency]
    interval: 1s
    rescan: 200ms
  go_client_golang:
    type: go_runtime
    target: { pid: ${workload.pid} }
    names: client_golang
    interval: 1s
    rescan: 200ms
  heartbeat:
    type: synthetic
    interval: 1s
    series: [{ name: probeflow_test_heartbeat, kind: gauge, value: { constant: 1 } }]
sinks:
  scrape: { type: prometheus, listen: "127.0.0.1:${scrapePort}" }
  scrape_client_golang: { type: prometheus, listen: "127.0.0.1:${clientGolangPort}", self_metrics: false }
  push: { type: remote_write, url: "${prom.url}/api/v1/write", queue: { batch_send_deadline: 1s } }
pipelines:
  go_runtime: { inputs: [go], sinks: [scrape] }
  client_golang: { inputs: [go_client_golang], sinks: [scrape_client_golang] }
  pushed: { inputs: [heartbeat], sinks: [push] }
`,
  );
  agent = runAgent(config, await freePort());
  await agent.waitLog('running').catch((e: Error) => {
    throw new Error(`${e.message}; the agent said:\n${agent.child.output().stderr}`);
  });
  startedAt = Date.now() / 1000;
  // Enough scrapes for rates and histogram quantiles over the dashboards' windows.
  await waitFor(() => Date.now() / 1000 - startedAt > 25, 40_000, '25 s of scrapes');
}, 120_000);

afterAll(async () => {
  agent?.child.kill('SIGINT');
  if (agent) await exited(agent.child);
  workload?.kill();
  await prom?.stop();
  expect(await settledKernelObjects()).toEqual({ programs: 0, links: 0 });
});

/** promtool's findings, one per line, less the ones it prints for a clean input. */
function promtoolLint(text: string): string[] {
  requireTool('promtool');
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 3) throw new Error(`promtool failed: ${r.stderr}`);
  return (r.stdout + r.stderr).split('\n').filter(Boolean);
}

describe('promtool check metrics on the go-runtime pipeline', () => {
  it('finds nothing but the seed name go_sched_m_nonidle_count', async () => {
    const text = await scrape(scrapePort);
    expect(text).toMatch(/^go_gc_pause_seconds_bucket\{/m);
    expect(text).toMatch(/^go_sched_latencies_seconds_bucket\{/m);
    expect(text).toMatch(/^process_resident_memory_bytes /m);
    const findings = promtoolLint(text);
    // The seed's own name for non-idle Ms, kept for its users (docs/go-runtime.md); promtool
    // reads "_count" as a histogram's and "m" as an abbreviated unit.
    expect(findings.filter((f) => !f.startsWith('go_sched_m_nonidle_count '))).toEqual([]);
    expect(findings.length).toBeGreaterThan(0);
  });

  it('finds nothing at all under names: client_golang', async () => {
    const text = await scrape(clientGolangPort);
    expect(text).toMatch(/^go_memstats_alloc_bytes_total\{/m);
    expect(promtoolLint(text)).toEqual([]);
  });
});

interface GrafanaTarget {
  expr: string;
  instant?: boolean;
}
interface GrafanaPanel {
  type: string;
  title: string;
  targets?: GrafanaTarget[];
}
interface GrafanaVariable {
  type: string;
  name: string;
  definition?: string;
  allValue?: string;
}
interface Dashboard {
  title: string;
  panels: GrafanaPanel[];
  templating: { list: GrafanaVariable[] };
}

const dashboards = readdirSync(join(ROOT, 'deploy/grafana'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ file: f, dashboard: JSON.parse(readFileSync(join(ROOT, 'deploy/grafana', f), 'utf8')) as Dashboard }));

async function promApi(path: string, params: Record<string, string | string[]>): Promise<any> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of [v].flat()) q.append(k, x);
  const res = (await (await fetch(`${prom.url}${path}?${q}`)).json()) as { status: string; data: any; error?: string };
  if (res.status !== 'success') throw new Error(res.error);
  return res.data;
}

/** A value as Grafana puts it into a regex matcher: regex-escaped, then escaped for PromQL's string. */
const escapeRegex = (s: string) => s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&').replaceAll('\\', '\\\\');

/** Grafana's expansion of the variables (all at "All") and its interval macros. */
function expand(expr: string, vars: Map<string, string>): string {
  let out = expr.replaceAll('$__rate_interval', '10s').replaceAll('$__interval', '2s');
  for (const [name, value] of vars) out = out.replaceAll(`$${name}`, value);
  return out;
}

describe('the Grafana dashboards in deploy/grafana', () => {
  it('are what scripts/dashboards gives', () => {
    execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/dashboards/write-dashboards.ts'), '--check'], { cwd: ROOT, stdio: 'pipe' });
    expect(dashboards.map((d) => d.file).sort()).toEqual(['go-runtime.json', 'probeflow-agent.json']);
  });

  for (const { file, dashboard } of dashboards) {
    it(`${file}: every variable and every panel query runs on the agent's real data and returns some`, async () => {
      const vars = new Map<string, string>();
      const variables = dashboard.templating.list.filter((v) => v.type === 'query');
      expect(dashboard.templating.list[0]).toMatchObject({ type: 'datasource', name: 'datasource', query: 'prometheus' });
      for (const v of variables) {
        // label_values(<selector>, <label>), as Grafana's Prometheus data source asks it.
        const m = /^label_values\((.+), (\w+)\)$/.exec(v.definition ?? '');
        expect(m, `${file}: variable ${v.name}`).not.toBeNull();
        const values = (await promApi(`/api/v1/label/${m![2]}/values`, { 'match[]': expand(m![1]!, vars), start: String(startedAt), end: String(Date.now() / 1000) })) as string[];
        // Off-cluster the processes have no namespace or pod: those variables list nothing,
        // and their "All" (.*) matches series without the label.
        if (v.name === 'namespace' || v.name === 'pod') expect(v.allValue, `${file}: ${v.name} must match series without the label`).toBe('.*');
        else expect(values.length, `${file}: variable ${v.name} lists values`).toBeGreaterThan(0);
        if (v.name === 'pid') expect(values).toContain(String(workload.pid));
        vars.set(v.name, v.allValue ?? `(${values.map(escapeRegex).join('|')})`);
      }
      const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t, i) => ({ where: `${p.title} [${i}]`, ...t })));
      expect(queries.length).toBeGreaterThan(10);
      const empty: string[] = [];
      for (const q of queries) {
        const expr = expand(q.expr, vars);
        expect(expr, q.where).not.toMatch(/\$\w/);
        const now = Date.now() / 1000;
        const data = q.instant
          ? await promApi('/api/v1/query', { query: expr, time: String(now) })
          : await promApi('/api/v1/query_range', { query: expr, start: String(startedAt), end: String(now), step: '2' });
        const values: string[] = data.result.flatMap((r: { value?: [number, string]; values?: [number, string][] }) => (r.values ?? [r.value!]).map((v) => v[1]));
        if (!values.some((v) => Number.isFinite(Number(v)))) empty.push(`${q.where}: ${expr}`);
      }
      expect(empty, `${dashboard.title}: queries without a finite value`).toEqual([]);
    });
  }

  it('narrow to one process with the pid variable', async () => {
    const data = await promApi('/api/v1/query', { query: `count(go_info{job=~"probeflow", namespace=~".*", pod=~".*", pid=~"${workload.pid}"})` });
    expect(data.result[0].value[1]).toBe('1');
    const none = await promApi('/api/v1/query', { query: `count(go_info{job=~"probeflow", pid=~"1"})` });
    expect(none.result).toEqual([]);
  });
});

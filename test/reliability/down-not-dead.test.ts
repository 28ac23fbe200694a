import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exited, waitFor } from '../helpers/cli.js';
import { metricValue, runAgent, scrape } from '../helpers/agent.js';
import { freePort } from '../helpers/servers.js';
import { sampleToJson } from '../../engine/model/sample-json.js';
import { counter } from '../helpers/samples.js';

/**
 * A component that fails is down, never the agent's death or a silent exit: the agent keeps
 * running, says why on /readyz, and a reload mends it. A refused file is refused once.
 */
const readyz = async (port: number) => {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
};

describe('down, not dead', () => {
  it('every probe failed at start: keeps running, not ready with the reason, component_up 0; a reload mends it', async () => {
    const http = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'pf-down-'));
    const file = join(dir, 'pipeline.yaml');
    writeFileSync(
      file,
      `probes:
  rec: { type: replay, file: rec.ndjson, loop: true }
sinks:
  out: { type: stdout, format: ndjson }
pipelines:
  a: { inputs: [rec], sinks: [out] }
`,
    );
    const a = runAgent(file, http, ['--watch-interval', '0s']);
    try {
      await a.waitLog('running');
      await new Promise((r) => setTimeout(r, 1500));
      expect(a.child.exitCode).toBeNull(); // it used to exit 0: "all pipelines finished"
      const r = await readyz(http);
      expect(r.status).toBe(503);
      expect(r.body).toMatch(/^not ready\nprobe rec \(replay\) down: replay: no such file .*rec\.ndjson\n$/);
      expect(metricValue(await scrape(http), /probeflow_component_up\{kind="probe",id="rec",type="replay"\} (\d+)/)).toBe(0);
      expect(a.logs().some((l) => l.level === 'warn' && l.msg.startsWith('not ready: some components are down'))).toBe(true);

      // The node is fixed (the file appears); the same config, reloaded, retries what is down.
      writeFileSync(join(dir, 'rec.ndjson'), [1, 2, 3].map((i) => sampleToJson(counter('replayed_total', i, i * 1000))).join('\n'));
      a.child.kill('SIGHUP');
      await a.waitLog('config unchanged; retrying the components that are down');
      await a.waitLog('config reloaded');
      expect((await readyz(http)).status).toBe(200);
      expect(metricValue(await scrape(http), /probeflow_component_up\{kind="probe",id="rec",type="replay"\} (\d+)/)).toBe(1);
      await waitFor(() => a.child.output().stdout.includes('"replayed_total"'), 5000, 'replayed samples on stdout');
    } finally {
      a.child.kill('SIGTERM');
      await exited(a.child);
    }
  });

  it('a refused file that stays on disk is refused once, however often it is polled; a new edit is tried', async () => {
    const [http, sink] = [await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'pf-refused-'));
    const file = join(dir, 'pipeline.yaml');
    const good = `probes:
  p: { type: synthetic, interval: 100ms, series: [{ name: x_total, kind: counter, value: { constant: 1 } }] }
sinks:
  out: { type: prometheus, listen: "127.0.0.1:${sink}" }
pipelines:
  a: { inputs: [p], sinks: [out] }
`;
    writeFileSync(file, good);
    const a = runAgent(file, http, ['--watch-interval', '200ms']);
    const refusals = () => a.logs().filter((l) => l.msg === 'config reload refused; the running pipelines are unchanged').length;
    try {
      await a.waitLog('running');
      writeFileSync(file, good.replace('interval: 100ms', 'intervall: 100ms'));
      await a.waitLog('config reload refused; the running pipelines are unchanged');
      // 3 s of 200 ms polls plus the directory watch: 15+ chances to refuse it again.
      await new Promise((r) => setTimeout(r, 3000));
      expect(refusals()).toBe(1);
      expect(metricValue(await scrape(http), /probeflow_config_reloads_total\{result="failure"\} (\d+)/)).toBe(1);
      // Other content, still bad: tried (and refused) once more.
      writeFileSync(file, good.replace('interval: 100ms', 'intervall: 200ms'));
      await a.waitLog('config reload refused; the running pipelines are unchanged', 2);
      // Fixed: applied.
      writeFileSync(file, good.replace('interval: 100ms', 'interval: 200ms'));
      await a.waitLog('config reloaded');
      expect(refusals()).toBe(2);
    } finally {
      a.child.kill('SIGTERM');
      await exited(a.child);
    }
  });

  it('exits 3 when a sink cannot deliver what it holds by --drain-timeout (a drained stop exits 0: cli.test)', async () => {
    const [http, dead] = [await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'pf-exit-'));
    const file = join(dir, 'pipeline.yaml');
    writeFileSync(
      file,
      `probes:
  p: { type: synthetic, interval: 50ms, series: [{ name: x_total, kind: counter, value: { constant: 1 } }] }
sinks:
  rw: { type: remote_write, url: "http://127.0.0.1:${dead}/api/v1/write" }
pipelines:
  a: { inputs: [p], sinks: [rw] }
`,
    );
    const a = runAgent(file, http, ['--drain-timeout', '1s']);
    await a.waitLog('running');
    await new Promise((r) => setTimeout(r, 300));
    a.child.kill('SIGTERM');
    expect((await exited(a.child)).code).toBe(3);
    expect(a.logs().some((l) => l.msg === 'stopped' && l.clean === false)).toBe(true);
  });
});

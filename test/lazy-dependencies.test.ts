import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROOT, exited, spawnProbeflow, waitFor } from './helpers/cli.js';
import { RemoteWriteReceiver } from './helpers/push-receiver.js';
import { freePort } from './helpers/servers.js';

/**
 * What an agent loads is what it costs in memory: got (~20 MB of RSS), protobufjs and
 * snappy are for push sinks, and an agent that only serves a scrape endpoint never loads them.
 */
const HEAVY: Record<string, RegExp> = {
  got: /node_modules\/http2-wrapper\//,
  protobufjs: /node_modules\/protobufjs\//,
  snappy: /node_modules\/snappy\//,
};

async function loadedBy(sinks: string, pipelineSinks: string, until: () => Promise<void> = async () => {}) {
  const dir = mkdtempSync(join(tmpdir(), 'pf-lazy-'));
  const config = join(dir, 'pipeline.yaml');
  writeFileSync(
    config,
    `probes:\n  tick: { type: synthetic, interval: 100ms, series: [{ name: lazy_tick, kind: gauge, value: { constant: 1 } }] }\nsinks:\n${sinks}\npipelines:\n  p: { inputs: [tick], sinks: [${pipelineSinks}] }\n`,
  );
  const out = join(dir, 'modules.txt');
  const agent = spawnProbeflow(['run', '-c', config, '--log-format', 'json', '--http-listen', `127.0.0.1:${await freePort()}`], {
    NODE_OPTIONS: `--import ${pathToFileURL(join(ROOT, 'test/fixtures/preload/loaded-modules.mjs')).href}`,
    PROBEFLOW_LOADED_MODULES: out,
  });
  try {
    await waitFor(() => agent.output().stderr.includes('"msg":"running"'), 15_000, `the agent to run:\n${agent.output().stderr}`);
    await until();
    await new Promise((r) => setTimeout(r, 1500));
    const modules = readFileSync(out, 'utf8').split('\n');
    return Object.fromEntries(Object.entries(HEAVY).map(([name, re]) => [name, modules.some((m) => re.test(m))]));
  } finally {
    agent.kill('SIGINT');
    await exited(agent);
  }
}

describe('dependencies an agent does not use are not loaded', () => {
  it('a scrape endpoint alone loads neither got, protobufjs nor snappy', async () => {
    const port = await freePort();
    expect(await loadedBy(`  scrape: { type: prometheus, listen: "127.0.0.1:${port}" }`, 'scrape')).toEqual({ got: false, protobufjs: false, snappy: false });
  });

  it('a remote_write sink loads all three once it sends', async () => {
    const r = await new RemoteWriteReceiver().start();
    try {
      expect(await loadedBy(`  push: { type: remote_write, url: "${r.url}", queue: { batch_send_deadline: 100ms } }`, 'push', () => waitFor(() => r.received.length > 0, 10_000, 'a push'))).toEqual({ got: true, protobufjs: true, snappy: true });
    } finally {
      await r.stop();
    }
  });
});

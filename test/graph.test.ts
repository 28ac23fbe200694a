import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SinkFactory } from '../engine/components/contracts.js';
import { Registry } from '../engine/components/registry.js';
import { ConfigLoader } from '../engine/config/load-config.js';
import { formatIssue } from '../engine/config/issue.js';
import { kinds } from '../engine/model/kinds.js';
import { builtinProbes } from '../probes/index.js';
import { builtinStages } from '../stages/index.js';

/** A sink that, like AOM's metric API, takes only numeric gauges and counters. */
const numericOnly: SinkFactory = {
  kind: 'sink',
  type: 'numeric',
  description: 'test',
  schema: { type: 'object', properties: { type: { const: 'numeric' } }, required: ['type'], additionalProperties: false },
  accepts: () => kinds('counter', 'gauge'),
  create: () => ({ start: async () => {}, write: () => {}, flush: async () => true, stop: async () => {} }),
};
const loader = new ConfigLoader(new Registry().register(...builtinProbes, ...builtinStages, numericOnly));

function check(yaml: string) {
  const file = join(mkdtempSync(join(tmpdir(), 'probeflow-graph-')), 'p.yaml');
  writeFileSync(file, yaml);
  const r = loader.check(file, { env: {} });
  return { ...r, lines: r.issues.map((i) => formatIssue(i).slice(file.length + 1)) };
}

const probe = `probes:
  lat: { type: synthetic, series: [{ name: lat, kind: event, value: { constant: 1 } }] }
sinks:
  n: { type: numeric }
`;

describe('graph kinds', () => {
  it('refuses a sink fed kinds it cannot take, naming what would fix it', () => {
    const r = check(probe + `pipelines:\n  a:\n    inputs: [lat]\n    stages: [{ type: histogram, buckets: { explicit: [1] } }]\n    sinks: [n]\n`);
    expect(r.lines).toEqual([
      '9:13: pipelines.a.sinks[0]: sink "n" (numeric) accepts counter, gauge but this pipeline feeds it histogram: drop histograms with filter (drop: { kind: [histogram] }) or send them to a sink that takes them',
    ]);
  });

  it('follows kinds through stages and chained pipelines', () => {
    const ok = check(probe + `pipelines:\n  a:\n    inputs: [lat]\n    stages: [{ type: aggregate, op: count }]\n  b:\n    inputs: [a]\n    stages: [{ type: filter, drop: { kind: [event] } }]\n    sinks: [n]\n`);
    expect(ok.lines).toEqual([]);
    expect([...ok.topology!.pipelines.find((p) => p.id === 'b')!.outKinds]).toEqual([]);
    const bad = check(probe + `pipelines:\n  a:\n    inputs: [lat]\n  b:\n    inputs: [a]\n    sinks: [n]\n`);
    expect(bad.lines[0]).toMatch(/sink "n" \(numeric\) accepts counter, gauge but this pipeline feeds it event/);
  });

  it('orders pipelines so upstream ones are built first', () => {
    const r = check(probe + `pipelines:\n  c: { inputs: [b], sinks: [n], stages: [{ type: filter, drop: { kind: [event] } }] }\n  b: { inputs: [a] }\n  a: { inputs: [lat] }\n`);
    expect(r.topology!.pipelines.map((p) => p.id)).toEqual(['a', 'b', 'c']);
  });
});

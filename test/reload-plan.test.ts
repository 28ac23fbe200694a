import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigLoader } from '../engine/config/load-config.js';
import type { Topology } from '../engine/graph/topology.js';
import { holdersToRelease, planReload, type RunningSnapshot } from '../engine/runtime/reload-plan.js';
import { builtinRegistry } from '../engine/cli/builtin-registry.js';

const dir = mkdtempSync(join(tmpdir(), 'pf-plan-'));
const loader = new ConfigLoader(builtinRegistry());
let n = 0;
function topology(yaml: string): Topology {
  const file = join(dir, `p${n++}.yaml`);
  writeFileSync(file, yaml);
  return loader.load(file).topology;
}

/** What would be running had `t` been applied and everything come up (or `down` not). */
function running(t: Topology, down: string[] = []): RunningSnapshot {
  const used = new Set(t.pipelines.flatMap((p) => p.sinks));
  return {
    probes: new Map([...t.probes].map(([id, s]) => [id, { hash: s.hash, up: !down.includes(`probe:${id}`) }])),
    sinks: new Map([...t.sinks].filter(([id]) => used.has(id)).map(([id, s]) => [id, { hash: s.hash, up: !down.includes(`sink:${id}`), claims: claims(s) }])),
    pipelines: new Map(t.pipelines.map((p) => [p.id, { hash: p.hash }])),
  };
}
const claims = (s: { type: string; config: Record<string, unknown> }) => (s.type === 'prometheus' ? [`tcp:${String(s.config.listen).split(':').pop()}`] : []);

const base = (sinkExtra = '', stage = 'delta') => `
probes:
  p: { type: synthetic, series: [{ name: x, kind: counter, value: { constant: 1 } }] }
  q: { type: synthetic, series: [{ name: y, kind: counter, value: { constant: 1 } }] }
sinks:
  prom: { type: prometheus, listen: "127.0.0.1:9999"${sinkExtra} }
  out: { type: stdout }
pipelines:
  up: { inputs: [p], stages: [{ type: ${stage} }], sinks: [prom] }
  down: { inputs: [up], sinks: [out] }
  other: { inputs: [q], sinks: [out] }
`;

describe('reload plan', () => {
  it('keeps everything for an identical config', () => {
    const t = topology(base());
    const plan = planReload(running(t), topology(base()), claims);
    expect([...plan.probes.values(), ...plan.sinks.values(), ...plan.pipelines.values()].every((a) => a === 'keep')).toBe(true);
    expect(plan.handovers).toEqual([]);
  });

  it('a sink option on the same port: the running sink hands its port over to the new one', () => {
    const plan = planReload(running(topology(base())), topology(base(', series_ttl: 1m')), claims);
    expect(plan.sinks.get('prom')).toBe('change');
    expect(plan.handovers).toEqual([{ resource: 'tcp:9999', holder: 'prom', claimant: 'prom' }]);
    expect(holdersToRelease(plan)).toEqual(['prom']);
  });

  it('a port moving from a removed sink to a new one is a handover too', () => {
    const before = topology(base());
    const after = topology(base().replace('prom: { type: prometheus', 'prom2: { type: prometheus').replace('sinks: [prom]', 'sinks: [prom2]'));
    const plan = planReload(running(before), after, claims);
    expect(plan.sinks.get('prom')).toBe('remove');
    expect(plan.sinks.get('prom2')).toBe('add');
    expect(plan.handovers).toEqual([{ resource: 'tcp:9999', holder: 'prom', claimant: 'prom2' }]);
  });

  it('a new port needs no handover', () => {
    const plan = planReload(running(topology(base())), topology(base().replace('9999', '9998')), claims);
    expect(plan.sinks.get('prom')).toBe('change');
    expect(plan.handovers).toEqual([]);
  });

  it('two sinks of one config claiming the same port is a conflict', () => {
    const t = topology(base().replace('  out: { type: stdout }', '  out: { type: prometheus, listen: ":9999" }'));
    const plan = planReload(running(topology(base())), t, claims);
    expect(plan.conflicts).toEqual([{ resource: 'tcp:9999', sinks: ['prom', 'out'] }]);
  });

  it('a pipeline whose sink is rebuilt is rebuilt, and so is every pipeline reading it', () => {
    const plan = planReload(running(topology(base())), topology(base(', series_ttl: 1m')), claims);
    // "down" is unchanged itself, but reads "up": kept, it would stay on the old chain.
    expect(Object.fromEntries(plan.pipelines)).toEqual({ up: 'change', down: 'change', other: 'keep' });
    expect(plan.probes.get('p')).toBe('keep');
  });

  it('a changed stage rebuilds its pipeline and the readers, not the probe or the sinks', () => {
    const plan = planReload(running(topology(base())), topology(base('', 'rate')), claims);
    expect(Object.fromEntries(plan.pipelines)).toEqual({ up: 'change', down: 'change', other: 'keep' });
    expect(Object.fromEntries(plan.sinks)).toEqual({ prom: 'keep', out: 'keep' });
    expect(Object.fromEntries(plan.probes)).toEqual({ p: 'keep', q: 'keep' });
  });

  it('down components of an unchanged config are retried, and so are the pipelines they feed', () => {
    const t = topology(base());
    const plan = planReload(running(t, ['probe:q', 'sink:prom']), topology(base()), claims);
    expect(plan.probes.get('q')).toBe('change');
    expect(plan.sinks.get('prom')).toBe('change');
    expect([...plan.retries].sort()).toEqual(['probe:q', 'sink:prom']);
    expect(Object.fromEntries(plan.pipelines)).toEqual({ up: 'change', down: 'change', other: 'change' });
  });

  it('removes what the new config no longer has; a sink no pipeline uses is not started', () => {
    const after = topology(base().replace(/  other: .*\n/, '').replace('  down: { inputs: [up], sinks: [out] }', '  down: { inputs: [up], sinks: [prom] }'));
    const plan = planReload(running(topology(base())), after, claims);
    expect(plan.pipelines.get('other')).toBe('remove');
    expect(plan.sinks.get('out')).toBe('remove');
    expect(plan.probes.get('q')).toBe('keep'); // still declared; unused probes are a warning, not removed
  });
});

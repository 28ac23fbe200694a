import type { ComponentSpec, PipelineSpec, Topology } from '../graph/topology.js';

/**
 * What a reload does, worked out before anything is touched — the shape of Vector's
 * ConfigDiff. Pure: it looks only at what runs and at the new topology, so every rule below
 * is unit-tested without a kernel, a port or a timer (test/reload-plan.test.ts).
 */

export type Action = 'add' | 'change' | 'remove' | 'keep';

/** What the engine runs now, as far as planning needs to know. */
export interface RunningSnapshot {
  probes: ReadonlyMap<string, { hash: string; up: boolean }>;
  sinks: ReadonlyMap<string, { hash: string; up: boolean; claims: readonly string[] }>;
  pipelines: ReadonlyMap<string, { hash: string }>;
}

/** A running sink holding what a new one claims: it stops before the new one starts. */
export interface Handover {
  resource: string;
  holder: string;
  claimant: string;
}

export interface ReloadPlan {
  probes: Map<string, Action>;
  sinks: Map<string, Action>;
  pipelines: Map<string, Action>;
  /**
   * Components that are down and unchanged: rebuilt to try again (a reload is how an operator
   * says "the node is fixed now"), but their failing again does not refuse the reload.
   */
  retries: Set<string>;
  handovers: Handover[];
  /** Two sinks of the new config claiming one resource: it cannot run as written. */
  conflicts: { resource: string; sinks: [string, string] }[];
}

/** Resources a sink claims exclusively (a TCP port, a file); none for most sinks. */
export type ClaimsOf = (spec: ComponentSpec) => readonly string[];

export const probeKey = (id: string) => `probe:${id}`;
export const sinkKey = (id: string) => `sink:${id}`;

export function planReload(running: RunningSnapshot, next: Topology, claimsOf: ClaimsOf): ReloadPlan {
  const retries = new Set<string>();
  const diff = (
    kind: 'probe' | 'sink',
    now: ReadonlyMap<string, { hash: string; up: boolean }>,
    wanted: Map<string, ComponentSpec>,
  ): Map<string, Action> => {
    const out = new Map<string, Action>();
    for (const [id, spec] of wanted) {
      const r = now.get(id);
      if (!r) out.set(id, 'add');
      else if (r.hash !== spec.hash) out.set(id, 'change');
      else if (!r.up) {
        out.set(id, 'change');
        retries.add(`${kind}:${id}`);
      } else out.set(id, 'keep');
    }
    for (const id of now.keys()) if (!wanted.has(id)) out.set(id, 'remove');
    return out;
  };

  // A sink no pipeline writes to is not started (a warning at load), so it is not wanted.
  const used = new Set(next.pipelines.flatMap((p) => p.sinks));
  const wantedSinks = new Map([...next.sinks].filter(([id]) => used.has(id)));
  const probes = diff('probe', running.probes, next.probes);
  const sinks = diff('sink', running.sinks, wantedSinks);

  const rebuilt = (a: Action | undefined) => a === 'add' || a === 'change';
  const pipelines = new Map<string, Action>();
  // Upstream pipelines come first, so a rebuilt upstream is known before its readers: they
  // are rebuilt too, or they would stay subscribed to the old chain and run its stages twice.
  for (const p of next.pipelines) pipelines.set(p.id, pipelineAction(p, running.pipelines.get(p.id)?.hash, probes, sinks, pipelines, rebuilt));
  for (const id of running.pipelines.keys()) if (!pipelines.has(id)) pipelines.set(id, 'remove');

  const conflicts: ReloadPlan['conflicts'] = [];
  const claimedBy = new Map<string, string>();
  for (const [id, spec] of wantedSinks) {
    for (const resource of claimsOf(spec)) {
      const other = claimedBy.get(resource);
      if (other) conflicts.push({ resource, sinks: [other, id] });
      else claimedBy.set(resource, id);
    }
  }

  const handovers: Handover[] = [];
  for (const [id, r] of running.sinks) {
    const action = sinks.get(id);
    if (action !== 'change' && action !== 'remove') continue;
    for (const resource of r.claims) {
      const claimant = claimedBy.get(resource);
      if (claimant && rebuilt(sinks.get(claimant))) handovers.push({ resource, holder: id, claimant });
    }
  }
  return { probes, sinks, pipelines, retries, handovers, conflicts };
}

function pipelineAction(
  p: PipelineSpec,
  runningHash: string | undefined,
  probes: Map<string, Action>,
  sinks: Map<string, Action>,
  pipelines: Map<string, Action>,
  rebuilt: (a: Action | undefined) => boolean,
): Action {
  if (runningHash === undefined) return 'add';
  if (runningHash !== p.hash) return 'change';
  const inputRebuilt = p.inputs.some((i) => rebuilt(i.from === 'probe' ? probes.get(i.id) : pipelines.get(i.id)));
  return inputRebuilt || p.sinks.some((s) => rebuilt(sinks.get(s))) ? 'change' : 'keep';
}

/** The sinks that must stop before the new ones start, each once, in plan order. */
export function holdersToRelease(plan: ReloadPlan): string[] {
  return [...new Set(plan.handovers.map((h) => h.holder))];
}

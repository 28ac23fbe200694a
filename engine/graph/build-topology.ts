import type { CheckContext, ComponentKind, ConfigPath } from '../components/contracts.js';
import type { Registry } from '../components/registry.js';
import { formatKinds, type KindSet } from '../model/kinds.js';
import type { SampleKind } from '../model/sample.js';
import type { ConfigIssue } from '../config/issue.js';
import type { ConfigSource } from '../config/source.js';
import { closest } from '../util/suggest.js';
import { stableHash } from '../util/stable-hash.js';
import { DEFAULT_MAX_SERIES, type ComponentSpec, type PipelineSpec, type StageSpec, type Topology } from './topology.js';

/** The shape the file schema guarantees; the graph checks what a schema cannot. */
export interface PipelineFile {
  probes?: Record<string, { type: string } & Record<string, unknown>>;
  stages?: Record<string, { type: string } & Record<string, unknown>>;
  sinks?: Record<string, { type: string } & Record<string, unknown>>;
  pipelines: Record<
    string,
    {
      description?: string;
      inputs: string[];
      stages?: StageStep[];
      sinks?: string[];
      max_series?: number;
    }
  >;
}

type InlineStage = { type: string } & Record<string, unknown>;
type StageStep = { use: string } | InlineStage;

function isRef(step: StageStep): step is { use: string } {
  return typeof (step as { use?: unknown }).use === 'string';
}

/**
 * Wires ids into a topology: resolves every reference, rejects cycles, propagates sample
 * kinds from probes through stages to sinks, and runs each component's own checks.
 * Unused components are warnings: a half-edited file should still run what it can.
 */
export function buildTopology(
  file: PipelineFile,
  source: ConfigSource,
  registry: Registry,
  check: CheckContext,
): { topology?: Topology; issues: ConfigIssue[] } {
  const { baseDir } = check;
  const issues: ConfigIssue[] = [];
  const error = (path: ConfigPath, message: string, key = false) => issues.push(source.issue('error', path, message, { key }));
  const warn = (path: ConfigPath, message: string) => issues.push(source.issue('warning', path, message, { key: true }));

  const probes = specs(file.probes);
  const sinks = specs(file.sinks);
  const named = file.stages ?? {};
  const pipelines = file.pipelines;

  // Component-level checks beyond the schema.
  const checkComponent = (kind: ComponentKind, type: string, config: unknown, at: ConfigPath) => {
    const factory = registry.get(kind, type);
    for (const p of factory?.check?.(config as never, check) ?? []) error([...at, ...p.path], p.message);
  };
  for (const [id, s] of probes) checkComponent('probe', s.type, s.config, ['probes', id]);
  for (const [id, s] of sinks) checkComponent('sink', s.type, s.config, ['sinks', id]);
  for (const [id, s] of Object.entries(named)) checkComponent('stage', s.type, s, ['stages', id]);

  for (const id of Object.keys(pipelines)) {
    if (probes.has(id)) error(['pipelines', id], `id "${id}" names both a probe and a pipeline: inputs could not tell them apart; rename one`, true);
  }

  // Resolve references.
  const used = { probes: new Set<string>(), sinks: new Set<string>(), stages: new Set<string>(), pipelines: new Set<string>() };
  const inputIds = [...probes.keys(), ...Object.keys(pipelines)];
  for (const [pid, p] of Object.entries(pipelines)) {
    p.inputs.forEach((input, i) => {
      if (probes.has(input)) used.probes.add(input);
      else if (input in pipelines) {
        used.pipelines.add(input);
        if (input === pid) error(['pipelines', pid, 'inputs', i], `pipeline "${pid}" cannot be its own input`);
      } else error(['pipelines', pid, 'inputs', i], unknownId('input', input, inputIds, 'a probe or pipeline id'));
    });
    (p.stages ?? []).forEach((step, i) => {
      if (isRef(step)) {
        if (step.use in named) used.stages.add(step.use);
        else error(['pipelines', pid, 'stages', i, 'use'], unknownId('stage', step.use, Object.keys(named), 'an id under the top-level stages:'));
      } else checkComponent('stage', step.type, step, ['pipelines', pid, 'stages', i]);
    });
    (p.sinks ?? []).forEach((sink, i) => {
      if (sinks.has(sink)) used.sinks.add(sink);
      else error(['pipelines', pid, 'sinks', i], unknownId('sink', sink, sinks.keys(), 'an id under sinks:'));
    });
  }

  const order = orderPipelines(pipelines, error);

  // Propagate kinds, in dependency order.
  const built = new Map<string, PipelineSpec>();
  for (const pid of order) {
    const p = pipelines[pid]!;
    let kinds = new Set<SampleKind>();
    const inputs: PipelineSpec['inputs'] = [];
    for (const input of p.inputs) {
      if (probes.has(input)) {
        const spec = probes.get(input)!;
        inputs.push({ id: input, from: 'probe' });
        for (const k of registry.get('probe', spec.type)!.emits(spec.config)) kinds.add(k);
      } else if (built.has(input)) {
        inputs.push({ id: input, from: 'pipeline' });
        for (const k of built.get(input)!.outKinds) kinds.add(k);
      }
    }
    const stages: StageSpec[] = [];
    (p.stages ?? []).forEach((step, i) => {
      const at: ConfigPath = ['pipelines', pid, 'stages', i];
      const ref = isRef(step) ? step.use : undefined;
      const config = isRef(step) ? named[step.use] : step;
      if (!config) return;
      const factory = registry.get('stage', config.type)!;
      let out: KindSet;
      try {
        out = factory.outputKinds(config, kinds);
      } catch (e) {
        error(at, `stage "${config.type}" cannot take ${formatKinds(kinds)}: ${(e as Error).message}`);
        out = kinds;
      }
      stages.push({ type: config.type, config, ...(ref !== undefined ? { ref } : {}), path: at, inKinds: kinds, outKinds: out });
      kinds = new Set(out);
    });
    (p.sinks ?? []).forEach((sinkId, i) => {
      const spec = sinks.get(sinkId);
      if (!spec) return;
      const accepts = registry.get('sink', spec.type)!.accepts(spec.config);
      const refused = [...kinds].filter((k) => !accepts.has(k));
      if (refused.length) {
        error(
          ['pipelines', pid, 'sinks', i],
          `sink "${sinkId}" (${spec.type}) accepts ${formatKinds(accepts)} but this pipeline feeds it ${refused.join(', ')}: ${refused.map((k) => CONVERT_HINT[k]).join('; ')}`,
        );
      }
    });
    const upstream = inputs.map((i) => (i.from === 'probe' ? probes.get(i.id)!.hash : built.get(i.id)!.hash));
    built.set(pid, {
      id: pid,
      inputs,
      stages,
      sinks: p.sinks ?? [],
      maxSeries: p.max_series ?? DEFAULT_MAX_SERIES,
      outKinds: kinds,
      hash: stableHash({ p, stages: stages.map((s) => s.config), upstream }),
    });
  }

  for (const id of probes.keys()) if (!used.probes.has(id)) warn(['probes', id], `probe "${id}" is not an input of any pipeline`);
  for (const id of sinks.keys()) if (!used.sinks.has(id)) warn(['sinks', id], `sink "${id}" is not used by any pipeline`);
  for (const id of Object.keys(named)) if (!used.stages.has(id)) warn(['stages', id], `stage "${id}" is not used by any pipeline`);
  for (const [pid, p] of Object.entries(pipelines)) {
    if (!(p.sinks ?? []).length && !used.pipelines.has(pid)) warn(['pipelines', pid], `pipeline "${pid}" has no sinks and feeds no other pipeline: its output goes nowhere`);
  }

  if (issues.some((i) => i.severity === 'error')) return { issues };
  return {
    topology: { file: source.file, baseDir, probes, sinks, pipelines: order.map((id) => built.get(id)!) },
    issues,
  };
}

/** What turns a refused kind into something else, for the sink-compatibility error. */
const CONVERT_HINT: Record<SampleKind, string> = {
  event: 'turn events into numbers with a histogram or aggregate (op: count) stage, or drop them with filter',
  histogram: 'drop histograms with filter (drop: { kind: [histogram] }) or send them to a sink that takes them',
  counter: 'turn counters into gauges with delta or rate, or drop them with filter',
  gauge: 'drop gauges with filter, or send them to a sink that takes them',
};

function specs(section: Record<string, { type: string } & Record<string, unknown>> | undefined): Map<string, ComponentSpec> {
  const out = new Map<string, ComponentSpec>();
  for (const [id, config] of Object.entries(section ?? {})) out.set(id, { id, type: config.type, config, hash: stableHash(config) });
  return out;
}

function unknownId(what: string, id: string, known: Iterable<string>, expected: string): string {
  const guess = closest(id, known);
  return `unknown ${what} "${id}": expected ${expected}${guess ? `; did you mean "${guess}"?` : ''}`;
}

/** Depth-first order over pipeline→pipeline edges; a back edge is a cycle, reported where it closes. */
function orderPipelines(
  pipelines: PipelineFile['pipelines'],
  error: (path: ConfigPath, message: string) => void,
): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string) => {
    state.set(id, 'visiting');
    stack.push(id);
    pipelines[id]!.inputs.forEach((input, i) => {
      if (!(input in pipelines) || input === id) return;
      const s = state.get(input);
      if (s === 'visiting') {
        // Shown in the direction data flows: each pipeline feeds the next.
        const cycle = [input, ...stack.slice(stack.indexOf(input)).reverse()].join(' → ');
        error(['pipelines', id, 'inputs', i], `pipelines form a cycle: ${cycle}; a pipeline's output cannot flow back into its own inputs`);
      } else if (s === undefined) visit(input);
    });
    stack.pop();
    state.set(id, 'done');
    order.push(id);
  };
  for (const id of Object.keys(pipelines)) if (!state.has(id)) visit(id);
  return order;
}

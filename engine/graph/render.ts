import { formatKinds } from '../model/kinds.js';
import type { Topology } from './topology.js';

/** The wired topology for people: one block per pipeline, inputs → stages → sinks. */
export function renderText(t: Topology): string {
  const lines: string[] = [];
  for (const p of t.pipelines) {
    lines.push(`pipeline ${p.id}`);
    lines.push(`  inputs:  ${p.inputs.map((i) => (i.from === 'probe' ? `${i.id} (${t.probes.get(i.id)!.type})` : `${i.id} (pipeline)`)).join(', ')}`);
    const stages = p.stages.map((s) => (s.ref ? `${s.ref} (${s.type})` : s.type));
    lines.push(`  stages:  ${stages.length ? stages.join(' → ') : '(none)'}`);
    lines.push(`  emits:   ${formatKinds(p.outKinds)}   (max_series ${p.maxSeries})`);
    lines.push(`  sinks:   ${p.sinks.length ? p.sinks.map((s) => `${s} (${t.sinks.get(s)!.type})`).join(', ') : '(none)'}`);
  }
  return lines.join('\n') + '\n';
}

/** Graphviz DOT: `probeflow graph -f dot pipeline.yaml | dot -Tsvg > graph.svg`. */
export function renderDot(t: Topology): string {
  const q = (s: string) => JSON.stringify(s);
  const lines = ['digraph probeflow {', '  rankdir=LR;', '  node [fontname="Helvetica"];'];
  for (const [id, p] of t.probes) lines.push(`  ${q(`probe:${id}`)} [label=${q(`${id}\n(${p.type})`)}, shape=box, style=rounded];`);
  for (const [id, s] of t.sinks) lines.push(`  ${q(`sink:${id}`)} [label=${q(`${id}\n(${s.type})`)}, shape=cylinder];`);
  for (const p of t.pipelines) {
    lines.push(`  subgraph ${q(`cluster_${p.id}`)} {`, `    label=${q(`pipeline ${p.id}`)};`);
    const nodes = [`pipeline:${p.id}:in`, ...p.stages.map((_, i) => `pipeline:${p.id}:${i}`), `pipeline:${p.id}:out`];
    lines.push(`    ${q(nodes[0]!)} [label="merge", shape=point];`);
    p.stages.forEach((s, i) => lines.push(`    ${q(nodes[i + 1]!)} [label=${q(s.ref ? `${s.ref}\n(${s.type})` : s.type)}, shape=box];`));
    lines.push(`    ${q(nodes[nodes.length - 1]!)} [label="", shape=point];`, '  }');
    for (let i = 0; i < nodes.length - 1; i++) lines.push(`  ${q(nodes[i]!)} -> ${q(nodes[i + 1]!)};`);
    for (const input of p.inputs) lines.push(`  ${q(input.from === 'probe' ? `probe:${input.id}` : `pipeline:${input.id}:out`)} -> ${q(nodes[0]!)};`);
    for (const s of p.sinks) lines.push(`  ${q(nodes[nodes.length - 1]!)} -> ${q(`sink:${s}`)};`);
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

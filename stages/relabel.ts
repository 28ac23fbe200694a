import type { ConfigProblem, StageFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { RelabelStageConfig } from '../schemas/types.generated.js';
import type { Labels, Sample } from '../engine/model/sample.js';
import { batchOperator } from './lib/batch-operator.js';
import { anchored, compileMatcher, matcherProblems, regexProblem } from './lib/matcher.js';

type Rule = RelabelStageConfig['rules'][number];
/** One rule as a function: a new sample, or undefined to drop it. */
type Rewrite = (s: Sample) => Sample | undefined;

export const relabelStage: StageFactory<RelabelStageConfig> = {
  kind: 'stage',
  type: 'relabel',
  description: 'Add, drop, rename and rewrite labels; prefix names; drop series',
  schema: loadComponentSchema('stage', 'relabel'),
  outputKinds: (_config, input) => input,
  check(config) {
    const problems: ConfigProblem[] = [];
    config.rules.forEach((r, i) => {
      if (r.replace) {
        const p = regexProblem(r.replace.regex);
        if (p) problems.push({ path: ['rules', i, 'replace', 'regex'], message: p });
      }
      problems.push(...matcherProblems(r.drop_series, ['rules', i, 'drop_series']));
    });
    return problems;
  },
  create(config, ctx) {
    const rules = config.rules.map(compileRule);
    return batchOperator(ctx, () => (batch) => {
      const out: Sample[] = [];
      for (const input of batch) {
        let s: Sample | undefined = input;
        for (const rule of rules) if (s) s = rule(s);
        if (s) out.push(s);
      }
      return out;
    });
  },
};

function withLabels(s: Sample, labels: Labels): Sample {
  return { ...s, labels };
}

function compileRule(r: Rule): Rewrite {
  if (r.set) {
    const set = r.set;
    return (s) => withLabels(s, { ...s.labels, ...set });
  }
  if (r.drop) {
    const drop = new Set(r.drop);
    return (s) => withLabels(s, Object.fromEntries(Object.entries(s.labels).filter(([k]) => !drop.has(k))));
  }
  if (r.keep_only) {
    const keep = new Set(r.keep_only);
    return (s) => withLabels(s, Object.fromEntries(Object.entries(s.labels).filter(([k]) => keep.has(k))));
  }
  if (r.rename) {
    const map = r.rename;
    return (s) => withLabels(s, Object.fromEntries(Object.entries(s.labels).map(([k, v]) => [map[k] ?? k, v])));
  }
  if (r.replace) {
    const { source, target, replacement } = r.replace;
    const re = anchored(r.replace.regex);
    return (s) => {
      const value = s.labels[source] ?? '';
      if (!re.test(value)) return s;
      const next = value.replace(re, replacement);
      const labels: Record<string, string> = { ...s.labels, [target]: next };
      // An empty value means "no label", as in Prometheus relabelling.
      if (next === '') delete labels[target];
      return withLabels(s, labels);
    };
  }
  if (r.drop_series) {
    const m = compileMatcher(r.drop_series);
    return (s) => (m(s) ? undefined : s);
  }
  if (r.name_prefix !== undefined) {
    const prefix = r.name_prefix;
    return (s) => ({ ...s, name: prefix + s.name });
  }
  return (s) => s;
}

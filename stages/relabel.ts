import type { ConfigProblem, StageFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { RelabelStageConfig } from '../schemas/types.generated.js';
import type { Labels, Sample } from '../engine/model/sample.js';
import { derivedNames } from './lib/derived-names.js';
import { batchOperator } from './lib/batch-operator.js';
import { anchored, compileMatcher, matcherProblems, regexProblem, type Matcher } from './lib/matcher.js';

type Rule = RelabelStageConfig['rules'][number];

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
    const steps = config.rules.map(compileRule);
    return batchOperator(ctx, () => (batch) => {
      const out: Sample[] = [];
      next: for (const input of batch) {
        let { name, labels } = input;
        for (const step of steps) {
          if ('labels' in step) labels = step.labels(labels);
          else if ('name' in step) name = step.name(name);
          else if (step.drops(name === input.name && labels === input.labels ? input : { kind: input.kind, name, labels })) continue next;
        }
        // One copy per changed sample, whatever the number of rules.
        out.push(name === input.name && labels === input.labels ? input : { ...input, name, labels });
      }
      return out;
    });
  },
};

/**
 * One rule as a step. Label rewrites depend on the labels alone, so each is remembered per
 * labels object: a probe hands out one labels object per series, and so does relabel then —
 * a new object per sample would make every later stage sort and join its labels again.
 */
type Step = { labels: (l: Labels) => Labels } | { name: (n: string) => string } | { drops: Matcher };

function perLabelsObject(rewrite: (l: Labels) => Labels): Step {
  const memo = new WeakMap<Labels, Labels>();
  return {
    labels: (l) => {
      let out = memo.get(l);
      if (!out) memo.set(l, (out = rewrite(l)));
      return out;
    },
  };
}

function compileRule(r: Rule): Step {
  if (r.set) {
    const set = r.set;
    return perLabelsObject((l) => ({ ...l, ...set }));
  }
  if (r.drop) {
    const drop = new Set(r.drop);
    return perLabelsObject((l) => Object.fromEntries(Object.entries(l).filter(([k]) => !drop.has(k))));
  }
  if (r.keep_only) {
    const keep = new Set(r.keep_only);
    return perLabelsObject((l) => Object.fromEntries(Object.entries(l).filter(([k]) => keep.has(k))));
  }
  if (r.rename) {
    const map = r.rename;
    return perLabelsObject((l) => Object.fromEntries(Object.entries(l).map(([k, v]) => [map[k] ?? k, v])));
  }
  if (r.replace) {
    const { source, target, replacement } = r.replace;
    const re = anchored(r.replace.regex);
    return perLabelsObject((l) => {
      const value = l[source] ?? '';
      if (!re.test(value)) return l;
      const next = value.replace(re, replacement);
      const labels: Record<string, string> = { ...l, [target]: next };
      // An empty value means "no label", as in Prometheus relabelling.
      if (next === '') delete labels[target];
      return labels;
    });
  }
  if (r.drop_series) return { drops: compileMatcher(r.drop_series) };
  if (r.name_prefix !== undefined) {
    const prefix = r.name_prefix;
    return { name: derivedNames((n) => prefix + n) };
  }
  return { labels: (l) => l };
}

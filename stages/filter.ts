import type { StageFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { FilterStageConfig } from '../schemas/types.generated.js';
import type { SampleKind } from '../engine/model/sample.js';
import { batchOperator } from './lib/batch-operator.js';
import { compileMatcher, matcherProblems } from './lib/matcher.js';

export const filterStage: StageFactory<FilterStageConfig> = {
  kind: 'stage',
  type: 'filter',
  description: 'Keep or drop samples by name, kind and label regexes',
  schema: loadComponentSchema('stage', 'filter'),
  outputKinds(config, input) {
    const out = new Set<SampleKind>(input);
    if (config.keep?.kind) for (const k of input) if (!config.keep.kind.includes(k)) out.delete(k);
    // A drop matcher that names only kinds removes them entirely; with names/labels it may not.
    if (config.drop?.kind && !config.drop.name && !config.drop.labels) for (const k of config.drop.kind) out.delete(k);
    return out;
  },
  check(config) {
    const problems = [...matcherProblems(config.keep, ['keep']), ...matcherProblems(config.drop, ['drop'])];
    if (!config.keep && !config.drop && !config.drop_non_finite) problems.push({ path: [], message: 'give `keep`, `drop` or `drop_non_finite`: this filter would pass everything' });
    return problems;
  },
  create(config, ctx) {
    const keep = config.keep ? compileMatcher(config.keep) : () => true;
    const drop = config.drop ? compileMatcher(config.drop) : () => false;
    const finiteOnly = config.drop_non_finite ?? false;
    return batchOperator(ctx, () => (batch) =>
      batch.filter((s) => keep(s) && !drop(s) && (!finiteOnly || Number.isFinite(s.kind === 'histogram' ? s.sum : s.value))),
    );
  },
};

import type { StageFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { ThresholdStageConfig } from '../schemas/types.generated.js';
import { ENDED, isNumeric, keyOf, type Sample, type SampleKind } from '../engine/model/sample.js';
import { parseDuration } from '../engine/util/duration.js';
import { batchOperator } from './lib/batch-operator.js';
import { compileMatcher, matcherProblems } from './lib/matcher.js';
import { SeriesClock, maxTimestamp } from './lib/series-clock.js';

type State = { phase: 'ok' } | { phase: 'pending'; since: number } | { phase: 'firing' };

export const thresholdStage: StageFactory<ThresholdStageConfig> = {
  kind: 'stage',
  type: 'threshold',
  description: 'Alert on a value above/below a level for a duration, with a clear level; emits 0/1 gauge + transition events',
  schema: loadComponentSchema('stage', 'threshold'),
  outputKinds(config, input) {
    const out = new Set<SampleKind>(config.pass_through === false ? [] : input);
    out.add('gauge');
    out.add('event');
    return out;
  },
  check(config) {
    const problems = matcherProblems(config.match, ['match']);
    if ((config.above === undefined) === (config.below === undefined)) {
      problems.push({ path: [], message: 'give exactly one of `above` or `below`' });
    } else if (config.clear !== undefined) {
      if (config.above !== undefined && config.clear > config.above) problems.push({ path: ['clear'], message: `must be <= above (${config.above}): the alert would resolve while still above the threshold` });
      if (config.below !== undefined && config.clear < config.below) problems.push({ path: ['clear'], message: `must be >= below (${config.below}): the alert would resolve while still below the threshold` });
    }
    return problems;
  },
  create(config, ctx) {
    const matches = compileMatcher(config.match);
    const forMs = parseDuration(config.for ?? '0s');
    const passThrough = config.pass_through ?? true;
    const isAbove = config.above !== undefined;
    const level = (isAbove ? config.above : config.below)!;
    const clearLevel = config.clear ?? level;
    const breached = (v: number) => (isAbove ? v > level : v < level);
    const cleared = (v: number) => (isAbove ? v <= clearLevel : v >= clearLevel);

    return batchOperator(ctx, () => {
      const states = new SeriesClock<State>(Math.max(forMs * 2, 3_600_000));
      return (batch) => {
        const out: Sample[] = [];
        for (const s of batch) {
          if (!isNumeric(s) || !matches(s)) {
            out.push(s);
            continue;
          }
          if (passThrough) out.push(s);
          const key = keyOf(s);
          if (!Number.isFinite(s.value) || !states.inOrder(key, s)) continue;
          let state = states.get(key)?.value ?? { phase: 'ok' };
          const transition = (to: 'firing' | 'resolved') =>
            out.push({ kind: 'event', name: `${config.name}_transitions`, labels: { ...s.labels, state: to }, timestamp: s.timestamp, value: s.value });
          if (state.phase === 'firing') {
            if (cleared(s.value)) {
              state = { phase: 'ok' };
              transition('resolved');
            }
          } else if (breached(s.value)) {
            const since = state.phase === 'pending' ? state.since : s.timestamp;
            if (s.timestamp - since >= forMs) {
              state = { phase: 'firing' };
              transition('firing');
            } else state = { phase: 'pending', since };
          } else state = { phase: 'ok' };
          // A series that ended cannot stay firing: its alert resolves and its state goes.
          if (s.ended) {
            if (state.phase === 'firing') transition('resolved');
            state = { phase: 'ok' };
            states.delete(key);
          } else states.set(key, s.timestamp, state);
          out.push({ kind: 'gauge', name: config.name, labels: s.labels, timestamp: s.timestamp, value: state.phase === 'firing' ? 1 : 0, ...(s.ended && ENDED) });
        }
        states.sweep(maxTimestamp(batch));
        return out;
      };
    });
  },
};

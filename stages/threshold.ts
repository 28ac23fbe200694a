import type { StageFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { ThresholdStageConfig } from '../schemas/types.generated.js';
import { derivedGauge, isNumeric, keyOf, withLabel, type NumericSample, type Sample, type SampleKind } from '../engine/model/sample.js';
import { parseDuration } from '../engine/util/duration.js';
import { batchOperator } from './lib/batch-operator.js';
import { compileMatcher, matcherProblems } from './lib/matcher.js';
import { isNewer, maxTimestamp, SeriesClock } from './lib/series-clock.js';

type State = { readonly phase: 'ok' } | { readonly phase: 'pending'; readonly since: number } | { readonly phase: 'firing' };
// States without data are shared: most series are ok on most samples.
const OK: State = { phase: 'ok' };
const FIRING: State = { phase: 'firing' };

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

    const transitionsName = `${config.name}_transitions`;
    // A transition event's labels: the series' own plus state, one object per series and state.
    const transition = (s: NumericSample, to: 'firing' | 'resolved'): Sample => ({ kind: 'event', name: transitionsName, labels: withLabel(s.labels, 'state', to), timestamp: s.timestamp, value: s.value });

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
          const known = states.get(key);
          if (!Number.isFinite(s.value) || !isNewer(known, s)) continue;
          let state = known?.value ?? OK;
          if (state.phase === 'firing') {
            if (cleared(s.value)) {
              state = OK;
              out.push(transition(s, 'resolved'));
            }
          } else if (breached(s.value)) {
            const since = state.phase === 'pending' ? state.since : s.timestamp;
            if (s.timestamp - since >= forMs) {
              state = FIRING;
              out.push(transition(s, 'firing'));
            } else if (state.phase !== 'pending') state = { phase: 'pending', since };
          } else state = OK;
          // A series that ended cannot stay firing: its alert resolves and its state goes.
          if (s.ended) {
            if (state.phase === 'firing') out.push(transition(s, 'resolved'));
            state = OK;
            states.delete(key);
          } else states.set(key, s.timestamp, state, known);
          out.push(derivedGauge(config.name, s, state.phase === 'firing' ? 1 : 0));
        }
        states.sweep(maxTimestamp(batch));
        return out;
      };
    });
  },
};

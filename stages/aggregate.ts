import type { StageFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { AggregateStageConfig } from '../schemas/types.generated.js';
import { ENDED, keyOf, seriesKey, type HistogramSample, type Labels, type Sample, type SampleKind } from '../engine/model/sample.js';
import { parseDuration } from '../engine/util/duration.js';
import { batchOperator } from './lib/batch-operator.js';
import { histogramRestarted, mergeHistograms } from './lib/histogram-math.js';
import { compileMatcher, matcherProblems } from './lib/matcher.js';
import { maxTimestamp, SeriesClock } from './lib/series-clock.js';

type Op = NonNullable<AggregateStageConfig['op']>;

export const aggregateStage: StageFactory<AggregateStageConfig> = {
  kind: 'stage',
  type: 'aggregate',
  description: 'sum/min/max/avg/count of the latest value of series, grouped by or without labels',
  schema: loadComponentSchema('stage', 'aggregate'),
  outputKinds(config, input) {
    const op = config.op ?? 'sum';
    if (input.has('histogram') && op !== 'sum' && (!config.match?.kind || config.match.kind.includes('histogram'))) {
      throw new Error(`only op: sum can combine histograms (got op: ${op}); filter histograms out first`);
    }
    const out = new Set<SampleKind>();
    for (const k of input) out.add(k === 'counter' && op === 'sum' ? 'counter' : k === 'histogram' ? 'histogram' : k === 'event' ? 'event' : 'gauge');
    return out;
  },
  check(config) {
    const problems = matcherProblems(config.match, ['match']);
    if (config.by && config.without) problems.push({ path: ['without'], message: 'give `by` or `without`, not both' });
    return problems;
  },
  create(config, ctx) {
    const op: Op = config.op ?? 'sum';
    const matches = compileMatcher(config.match);
    const groupLabels = labelGrouper(config.by, config.without);
    return batchOperator(ctx, () => {
      // Latest sample of each member series, and which members each group has.
      const members = new SeriesClock<{ group: string; sample: Sample }>(parseDuration(config.stale_after ?? '5m'));
      const groups = new Map<string, Group>();
      const leave = (memberKey: string, group: string, last: Sample) => {
        const g = groups.get(group);
        if (!g) return;
        g.members.delete(memberKey);
        // A summed counter keeps what a departed member counted, or it would fall (and a delta
        // downstream would read the fall as a reset and the whole remaining sum as new).
        if (op === 'sum' && isCumulative(last)) carry(g, last);
        else if (g.members.size === 0) groups.delete(group);
      };
      return (batch) => {
        const out: Sample[] = [];
        const touched = new Set<string>();
        const ended: { memberKey: string; group: string; sample: Sample }[] = [];
        for (const s of batch) {
          if (s.kind === 'event' || !matches(s)) {
            out.push(s);
            continue;
          }
          const memberKey = keyOf(s);
          if (!members.inOrder(memberKey, s)) continue;
          const name = config.name ?? s.name;
          const labels = groupLabels(s.labels);
          const group = seriesKey(name, labels) + `\u0002${s.kind}`;
          const prev = members.get(memberKey)?.value;
          if (prev && prev.group !== group) leave(memberKey, prev.group, prev.sample);
          let g = groups.get(group);
          if (!g) groups.set(group, (g = { name, labels, members: new Set() }));
          // A member that restarted its count: what it had counted stays in the sum.
          if (prev && prev.group === group && op === 'sum' && restarted(prev.sample, s)) carry(g, prev.sample);
          members.set(memberKey, s.timestamp, { group, sample: s });
          g.members.add(memberKey);
          touched.add(group);
          if (s.ended) ended.push({ memberKey, group, sample: s });
        }
        members.sweep(maxTimestamp(batch), (k, v) => leave(k, v.group, v.sample));
        const combined = new Map<string, Sample>();
        for (const group of touched) {
          const g = groups.get(group);
          if (!g || g.members.size === 0) continue;
          const samples = [...g.members].map((k) => members.get(k)!.value.sample);
          const c = combine(op, samples, g);
          if (c) combined.set(group, c);
        }
        // Ended members leave after their last value counted; a group left with nothing ends too.
        for (const e of ended) {
          members.delete(e.memberKey);
          leave(e.memberKey, e.group, e.sample);
        }
        for (const [group, c] of combined) out.push(groups.has(group) ? c : { ...c, ...ENDED });
        return out;
      };
    });
  },
};

function labelGrouper(by: string[] | undefined, without: string[] | undefined): (l: Labels) => Labels {
  if (by) return (l) => Object.fromEntries(by.filter((k) => k in l).map((k) => [k, l[k]!]));
  if (without) {
    const drop = new Set(without);
    return (l) => Object.fromEntries(Object.entries(l).filter(([k]) => !drop.has(k)));
  }
  return () => ({});
}

interface Group {
  name: string;
  labels: Labels;
  members: Set<string>;
  /** For a sum of counters or histograms: what members that left or restarted had counted. */
  carried?: number | HistogramSample;
}

const isCumulative = (s: Sample) => s.kind === 'counter' || s.kind === 'histogram';

function restarted(prev: Sample, next: Sample): boolean {
  if (prev.kind === 'counter' && next.kind === 'counter') return next.value < prev.value;
  if (prev.kind === 'histogram' && next.kind === 'histogram') return histogramRestarted(prev, next);
  return false;
}

function carry(g: Group, last: Sample): void {
  if (last.kind === 'counter') {
    if (Number.isFinite(last.value)) g.carried = (typeof g.carried === 'number' ? g.carried : 0) + last.value;
  } else if (last.kind === 'histogram') {
    // Different bounds cannot be carried; the sum then falls, as it would have before.
    g.carried = g.carried === undefined ? last : typeof g.carried === 'number' ? g.carried : mergeHistograms(g.carried, last);
  }
}

function combine(op: Op, samples: Sample[], g: Group): Sample | undefined {
  const { name, labels } = g;
  // maxTimestamp and reduce, not Math.max(...xs): spreading 100k+ members into a call throws RangeError.
  const timestamp = maxTimestamp(samples);
  const first = samples[0]!;
  if (first.kind === 'histogram') {
    let acc: HistogramSample | undefined = g.carried !== undefined && typeof g.carried !== 'number' ? mergeHistograms(g.carried, first) : first;
    for (const s of samples.slice(1)) acc = acc && mergeHistograms(acc, s as HistogramSample);
    // Histograms with different bounds cannot be summed; emitting a wrong one would be worse than none.
    return acc && { kind: 'histogram', name, labels, timestamp, bounds: acc.bounds, counts: acc.counts, sum: acc.sum, count: acc.count, ...(acc.help ? { help: acc.help } : {}) };
  }
  const values = samples.map((s) => (s as { value: number }).value).filter(Number.isFinite);
  let value: number;
  switch (op) {
    case 'sum':
      value = values.reduce((a, b) => a + b, typeof g.carried === 'number' ? g.carried : 0);
      break;
    case 'min':
      value = values.length ? values.reduce((a, b) => (b < a ? b : a)) : NaN;
      break;
    case 'max':
      value = values.length ? values.reduce((a, b) => (b > a ? b : a)) : NaN;
      break;
    case 'avg':
      value = values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
      break;
    case 'count':
      value = samples.length;
      break;
  }
  const kind = first.kind === 'counter' && op === 'sum' ? 'counter' : 'gauge';
  return { kind, name, labels, timestamp, value };
}

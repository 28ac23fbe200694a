import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../engine/cli/builtin-registry.js';
import { ConfigLoader } from '../engine/config/load-config.js';
import { formatIssue } from '../engine/config/issue.js';

/**
 * The corpus of broken configs: each file must be refused (or warned about) with exactly
 * these located messages, LINE:COL first. Checked by hand against the files when added.
 */
const EXPECTED: Record<string, string[]> = {
  "01-yaml-unclosed-bracket.yaml": [
    "4:5: YAML: Flow sequence in block collection must be sufficiently indented and end with a ]",
  ],
  "02-yaml-tab-indent.yaml": [
    "2:1: YAML: tabs are not allowed for indentation; indent with spaces",
  ],
  "03-yaml-duplicate-key.yaml": [
    "3:3: YAML: duplicate key: each key may appear once in a mapping (Map keys must be unique)",
  ],
  "04-yaml-bad-indent.yaml": [
    "4:1: YAML: bad indentation: align the keys of one mapping in the same column (All mapping items must start at the same column)",
  ],
  "05-empty-file.yaml": [
    "1:1: the file is empty: it needs at least a `pipelines:` section",
  ],
  "06-top-level-list.yaml": [
    "1:1: expected a mapping, got a list",
  ],
  "07-missing-pipelines.yaml": [
    "1:1: missing required key \"pipelines\"",
  ],
  "08-unknown-top-level-key.yaml": [
    "2:1: pipeline: unknown key \"pipeline\": did you mean \"pipelines\"?",
  ],
  "09-unknown-probe-type.yaml": [
    "3:11: probes.p.type: unknown probe type \"uprob\": expected one of \"bpf_object\", \"go_runtime\", \"kprobe\", \"raw_tracepoint\", \"replay\", \"synthetic\", \"tracepoint\", \"uprobe\"; did you mean \"uprobe\"?",
  ],
  "10-probe-without-type.yaml": [
    "2:3: probes.p: missing required key \"type\"",
  ],
  "11-unknown-key-in-stage.yaml": [
    "12:9: pipelines.a.stages[0].emitt: unknown key \"emitt\": did you mean \"emit\"?",
  ],
  "12-wrong-type-number.yaml": [
    "4:12: probes.p.ticks: expected an integer, got \"three\"",
  ],
  "13-bad-duration.yaml": [
    "4:15: probes.p.interval: expected a duration such as 500ms, 10s, 1m30s or 2h, got number 10",
  ],
  "14-bad-duration-unit.yaml": [
    "14:14: pipelines.a.stages[0].for: expected a duration such as 500ms, 10s, 1m30s or 2h, got \"5 minutes\"",
  ],
  "15-buckets-wrong-type.yaml": [
    "14:18: pipelines.go.stages[1].buckets: expected exactly one of explicit, linear, exponential, got \"0.1, 0.5, 1\"",
  ],
  "16-buckets-two-kinds.yaml": [
    "12:9: pipelines.a.stages[0].buckets: expected exactly one of explicit, linear, exponential",
  ],
  "17-buckets-not-increasing.yaml": [
    "12:30: pipelines.a.stages[0].buckets.explicit: bounds must be strictly increasing: 0.5 is followed by 0.5",
  ],
  "18-dangling-input.yaml": [
    "9:14: pipelines.a.inputs[0]: unknown input \"gc_pause\": expected a probe or pipeline id; did you mean \"gc_pauses\"?",
    "2:3: warning: probes.gc_pauses: probe \"gc_pauses\" is not an input of any pipeline",
  ],
  "19-dangling-sink.yaml": [
    "10:19: pipelines.a.sinks[1]: unknown sink \"aom\": expected an id under sinks:",
  ],
  "20-dangling-named-stage.yaml": [
    "13:14: pipelines.a.stages[0].use: unknown stage \"per_secnd\": expected an id under the top-level stages:; did you mean \"per_second\"?",
    "6:3: warning: stages.per_second: stage \"per_second\" is not used by any pipeline",
  ],
  "21-cycle.yaml": [
    "12:14: pipelines.b.inputs[0]: pipelines form a cycle: a → b → c → a; a pipeline's output cannot flow back into its own inputs",
  ],
  "22-self-input.yaml": [
    "9:17: pipelines.a.inputs[1]: pipeline \"a\" cannot be its own input",
  ],
  "23-empty-inputs.yaml": [
    "5:5: pipelines.a.inputs: needs at least 1 item",
  ],
  "24-bad-id.yaml": [
    "2:3: probes[\"my probe\"]: invalid key \"my probe\": expected an id of letters, digits, _ and - that starts with a letter or _",
  ],
  "25-missing-env.yaml": [
    "6:32: sinks.out.format: environment variable PROBEFLOW_TEST_UNSET_FORMAT is not set: export it, or give a default with ${PROBEFLOW_TEST_UNSET_FORMAT:-value}",
  ],
  "26-bad-enum.yaml": [
    "8:13: sinks.out.format: \"jsonl\" is not allowed: expected one of \"text\", \"ndjson\"",
  ],
  "27-threshold-both-directions.yaml": [
    "11:9: pipelines.a.stages[0]: give exactly one of `above` or `below`",
  ],
  "28-bad-regex.yaml": [
    "13:17: pipelines.a.stages[0].keep.name: invalid regular expression: /go_(sched/: Unterminated group",
  ],
  "29-negative-max-series.yaml": [
    "10:17: pipelines.a.max_series: must be >= 1, got number -5",
  ],
  "30-bad-metric-name.yaml": [
    "5:15: probes.p.series[0].name: expected a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), got \"go-gc-pauses\"",
  ],
  "31-relabel-two-actions.yaml": [
    "13:13: pipelines.a.stages[0].rules[0]: expected exactly one action per rule: set, drop, keep_only, rename, replace, drop_series, name_prefix",
  ],
  "32-aggregate-histogram-max.yaml": [
    "11:9: pipelines.a.stages[0]: stage \"aggregate\" cannot take histogram: only op: sum can combine histograms (got op: max); filter histograms out first",
  ],
  "33-histogram-without-buckets.yaml": [
    "5:9: probes.p.series[0]: a histogram series needs `buckets`",
    "9:3: warning: pipelines.a: pipeline \"a\" has no sinks and feeds no other pipeline: its output goes nowhere",
  ],
  "34-stages-not-a-list.yaml": [
    "9:7: pipelines.a.stages: expected a list, got a mapping",
  ],
  "35-id-both-probe-and-pipeline.yaml": [
    "8:3: pipelines.p: id \"p\" names both a probe and a pipeline: inputs could not tell them apart; rename one",
  ],
  "36-use-with-extra-key.yaml": [
    "14:9: pipelines.a.stages[0].emit: unknown key \"emit\": allowed keys: use",
  ],
};

const dir = join(import.meta.dirname, 'fixtures', 'broken');
const loader = new ConfigLoader(builtinRegistry());

describe('broken config corpus', () => {
  it('has an expectation for every file and at least 30 files', () => {
    expect(readdirSync(dir).sort()).toEqual(Object.keys(EXPECTED).sort());
    expect(Object.keys(EXPECTED).length).toBeGreaterThanOrEqual(30);
  });

  for (const [file, expected] of Object.entries(EXPECTED)) {
    it(file, () => {
      const { issues, topology } = loader.check(join(dir, file), { env: {} });
      expect(issues.map((i) => formatIssue(i).slice(join(dir, file).length + 1))).toEqual(expected);
      // Every file in the corpus is broken: none may produce a runnable topology.
      expect(topology).toBeUndefined();
    });
  }
});

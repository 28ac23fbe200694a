import type { Labels, SampleKind } from '../../engine/model/sample.js';

export interface MatcherConfig {
  name?: string;
  kind?: SampleKind[];
  labels?: Record<string, string>;
}

/** What a matcher looks at: a sample, or the name and labels a stage is about to give it. */
export type Matcher = (s: { readonly name: string; readonly kind: SampleKind; readonly labels: Labels }) => boolean;

/** Regexes are anchored like Prometheus matchers: `name: go_.*` must match the whole name. */
export function compileMatcher(cfg: MatcherConfig | undefined): Matcher {
  if (!cfg) return () => true;
  const name = cfg.name !== undefined ? anchored(cfg.name) : undefined;
  const kinds = cfg.kind ? new Set(cfg.kind) : undefined;
  const labels = Object.entries(cfg.labels ?? {}).map(([k, re]) => [k, anchored(re)] as const);
  return (s) =>
    (!name || name.test(s.name)) &&
    (!kinds || kinds.has(s.kind)) &&
    labels.every(([k, re]) => re.test(s.labels[k] ?? ''));
}

export function anchored(re: string): RegExp {
  return new RegExp(`^(?:${re})$`);
}

/** For check(): a regex that does not compile is a config error, located at its field. */
export function regexProblem(re: string | undefined): string | undefined {
  if (re === undefined) return undefined;
  try {
    new RegExp(re);
    return undefined;
  } catch (e) {
    return `invalid regular expression: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`;
  }
}

export function matcherProblems(cfg: MatcherConfig | undefined, at: (string | number)[]): { path: (string | number)[]; message: string }[] {
  if (!cfg) return [];
  const out: { path: (string | number)[]; message: string }[] = [];
  const n = regexProblem(cfg.name);
  if (n) out.push({ path: [...at, 'name'], message: n });
  for (const [k, re] of Object.entries(cfg.labels ?? {})) {
    const p = regexProblem(re);
    if (p) out.push({ path: [...at, 'labels', k], message: p });
  }
  return out;
}

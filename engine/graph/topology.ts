import type { ConfigPath } from '../components/contracts.js';
import type { KindSet } from '../model/kinds.js';

/** A validated, wired config: what the engine builds and what reload diffs against. */
export interface ComponentSpec {
  id: string;
  type: string;
  config: Record<string, unknown>;
  /** Hash of the normalised config; equal hashes mean "keep it running" on reload. */
  hash: string;
}

export interface StageSpec {
  type: string;
  config: Record<string, unknown>;
  /** Named stage this step came from (`use: <id>`), if any. */
  ref?: string;
  /** Where the step is written, for errors raised while building it. */
  path: ConfigPath;
  inKinds: KindSet;
  outKinds: KindSet;
}

export interface PipelineInput {
  id: string;
  from: 'probe' | 'pipeline';
}

export interface PipelineSpec {
  id: string;
  inputs: PipelineInput[];
  stages: StageSpec[];
  sinks: string[];
  maxSeries: number;
  outKinds: KindSet;
  /** Covers the pipeline's own config and every upstream component, so a change upstream rebuilds it. */
  hash: string;
}

export interface Topology {
  file: string;
  baseDir: string;
  probes: Map<string, ComponentSpec>;
  sinks: Map<string, ComponentSpec>;
  /** Upstream pipelines come before the pipelines they feed. */
  pipelines: PipelineSpec[];
}

export const DEFAULT_MAX_SERIES = 10_000;

import type { Observable, OperatorFunction } from 'rxjs';
import type { SampleBatch } from '../model/sample.js';
import type { KindSet } from '../model/kinds.js';
import type { Logger } from '../util/log.js';
import type { SelfMetrics } from '../runtime/self-metrics.js';
import type { WritePolicy } from '../security/write-policy.js';

/**
 * The three component contracts. The engine knows these and the registry, never an
 * implementation: every probe, stage and sink is found by its `type` name.
 * Shaped like the OpenTelemetry Collector's components: a factory with a config schema
 * creates an instance whose lifecycle the engine drives.
 */

export type JsonSchema = Record<string, unknown>;
export type ConfigPath = readonly (string | number)[];

/** A problem in a component's config that a JSON Schema cannot express (e.g. unsorted buckets). */
export interface ConfigProblem {
  /** Path relative to the component's own config object. */
  path: ConfigPath;
  message: string;
}

/** What a process's pod is, when running on Kubernetes. */
export interface PodMetadata {
  namespace: string;
  pod: string;
  container?: string;
  /** The pod's labels and annotations, for probes' k8s_labels / k8s_annotations. */
  labels?: Readonly<Record<string, string>>;
  annotations?: Readonly<Record<string, string>>;
}

/** The pod a cgroup belongs to. */
export type PodLookup = (cgroup: string) => PodMetadata | undefined;

export interface ComponentContext {
  /** The component's id in pipeline.yaml (for pipelines-scoped stages: "<pipeline>.stages[i]"). */
  readonly id: string;
  readonly log: Logger;
  /** Directory of the config file; relative paths in a config resolve against it. */
  readonly baseDir: string;
  readonly metrics: SelfMetrics;
  /** Present on Kubernetes nodes; probes add pod labels with it. */
  readonly pods?: PodLookup;
  /** Where the agent may write files (from the command line, not the config). */
  readonly writePolicy: WritePolicy;
}

/** What a component's check() may consult besides its config: nothing with side effects. */
export interface CheckContext {
  /** Directory of the config file; relative paths in a config resolve against it. */
  readonly baseDir: string;
  readonly writePolicy: WritePolicy;
}

interface FactoryBase<C> {
  readonly type: string;
  /** One line for `probeflow components`. */
  readonly description: string;
  /** The component's config schema, as loaded from schemas/<kind>s/<type>.schema.json. */
  readonly schema: JsonSchema;
  /** Checks beyond the schema; run by `validate` too, so no side effects. */
  check?(config: C, ctx: CheckContext): ConfigProblem[];
}

export interface Probe {
  /**
   * Cold: subscribing attaches (loads BPF objects, opens files, starts timers) and
   * unsubscribing releases everything it attached. Errors are per-probe: the engine logs
   * them and keeps every other pipeline running.
   */
  samples(): Observable<SampleBatch>;
}

export interface ProbeFactory<C = any> extends FactoryBase<C> {
  readonly kind: 'probe';
  /** What the probe emits, known from config alone so the graph can be checked without attaching. */
  emits(config: C): KindSet;
  create(config: C, ctx: ComponentContext): Probe;
}

export interface StageFactory<C = any> extends FactoryBase<C> {
  readonly kind: 'stage';
  /**
   * The kinds leaving the stage when `input` enters it. Throwing an Error with a message
   * marks the wiring as invalid (e.g. a stage that cannot take histograms).
   */
  outputKinds(config: C, input: KindSet): KindSet;
  create(config: C, ctx: ComponentContext): OperatorFunction<SampleBatch, SampleBatch>;
}

export interface Sink {
  /**
   * Opens listeners/connections. A sink that cannot start fails only itself. A sink with
   * `claims` must also start again after `stop()`, its state intact: when its replacement
   * cannot take the resource over on reload, the engine puts the old sink back that way.
   */
  start(): Promise<void>;
  /** Hands a batch over; must not block. Queueing, batching and retries are the sink's own. */
  write(batch: SampleBatch, origin: { pipeline: string }): void;
  /**
   * Sends whatever is buffered, giving up at `deadline` (epoch ms; the sink's own default if
   * absent); called on drain. Resolves true when nothing is left undelivered, false when it
   * gave up with samples still buffered (they are lost: the exit status says so).
   */
  flush(deadline?: number): Promise<boolean>;
  stop(): Promise<void>;
}

export interface SinkFactory<C = any> extends FactoryBase<C> {
  readonly kind: 'sink';
  accepts(config: C): KindSet;
  /**
   * What the sink holds exclusively while it runs (`tcp:9464`, `file:/abs/path`). On reload a
   * running sink that holds what a new one claims is stopped first and handed over (Vector's
   * resource conflicts); two sinks of one config claiming the same thing refuse the config.
   */
  claims?(config: C, ctx: CheckContext): string[];
  create(config: C, ctx: ComponentContext): Sink;
}

export type AnyFactory = ProbeFactory | StageFactory | SinkFactory;
export type ComponentKind = AnyFactory['kind'];

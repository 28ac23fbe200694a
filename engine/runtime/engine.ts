import { catchError, connectable, merge, NEVER, share, Subject, tap, type Connectable, type Observable, type Subscription } from 'rxjs';
import type { CheckContext, ComponentContext, PodLookup, Sink } from '../components/contracts.js';
import type { Registry } from '../components/registry.js';
import type { ComponentSpec, PipelineSpec, Topology } from '../graph/topology.js';
import type { SampleBatch } from '../model/sample.js';
import type { Logger } from '../util/log.js';
import { limitSeries } from './series-limit.js';
import { SelfMetrics } from './self-metrics.js';
import { WritePolicy } from '../security/write-policy.js';
import { holdersToRelease, planReload, probeKey, sinkKey, type ReloadPlan, type RunningSnapshot } from './reload-plan.js';
import { untilDeadline } from '../util/deadline.js';
import { releasesInFlight, releasesSettled } from '../bpf/kernel-releases.js';

const SERIES_STALE_MS = 5 * 60_000;
/** How long a reload may spend draining a sink it replaces. */
const RETIRE_DRAIN_MS = 10_000;
/** On stop, how long detaching may take at least, after the sinks' drain deadline. */
const KERNEL_RELEASE_MS = 5_000;

interface RunningProbe {
  spec: ComponentSpec;
  samples: Connectable<SampleBatch>;
  connection?: Subscription;
  up: boolean;
  error?: string;
}

interface RunningSink {
  spec: ComponentSpec;
  /** Absent when the sink could not even be created. */
  sink?: Sink;
  claims: readonly string[];
  up: boolean;
  error?: string;
}

interface RunningPipeline {
  spec: PipelineSpec;
  out: Observable<SampleBatch>;
  subscriptions: Subscription[];
  finished: boolean;
}

export interface ComponentStatus {
  type: string;
  up: boolean;
  error?: string;
}

export interface DownComponent {
  kind: 'probe' | 'sink';
  id: string;
  type: string;
  error: string;
}

export interface EngineStatus {
  probes: Record<string, ComponentStatus>;
  sinks: Record<string, ComponentStatus>;
  pipelines: string[];
}

export interface ReloadChanges {
  added: string[];
  changed: string[];
  removed: string[];
  kept: string[];
}

/** A configuration the engine refused; nothing of the running topology changed. */
export class ReloadError extends Error {}

export interface EngineOptions {
  metrics?: SelfMetrics;
  /** Present on Kubernetes nodes: pod labels for processes. */
  pods?: PodLookup;
  /** Where file-writing components may write; default DEFAULT_WRITABLE_DIRS. */
  writePolicy?: WritePolicy;
}

/**
 * Runs a topology: one connectable observable per probe (one attachment however many
 * pipelines read it), each pipeline as inputs → stages → series limit, and one subscription
 * per (pipeline, sink). Failures are contained: a probe that errors is marked down and its
 * pipelines wait (a reload retries it), a stage that throws costs its batch, a sink that
 * throws loses that batch; everything else keeps running.
 *
 * `apply` is also the reload: `planReload` says what to add, change, remove and keep, and
 * this executes it (Vector's topology reload): only what is new or changed is built, a
 * running sink holding a port or file a new sink claims is stopped first and put back if its
 * replacement cannot start, and if any new part cannot be built the new parts are torn down
 * and the running topology is left as it was. `apply` and `stop` run one at a time.
 */
export class Engine {
  readonly metrics: SelfMetrics;
  private probes = new Map<string, RunningProbe>();
  private sinks = new Map<string, RunningSink>();
  private pipelines = new Map<string, RunningPipeline>();
  private applied = false;
  private stopping = false;
  private serial: Promise<unknown> = Promise.resolve();
  private resolveDone: () => void = () => {};
  /** Resolves when every pipeline has completed: only finite sources (a replay, synthetic `ticks`) do. */
  readonly done: Promise<void> = new Promise((resolve) => (this.resolveDone = resolve));

  private readonly pods?: PodLookup;
  private readonly writePolicy: WritePolicy;

  constructor(
    private readonly registry: Registry,
    private readonly log: Logger,
    opts: EngineOptions = {},
  ) {
    this.metrics = opts.metrics ?? new SelfMetrics();
    this.pods = opts.pods;
    this.writePolicy = opts.writePolicy ?? new WritePolicy();
  }

  async start(topology: Topology): Promise<void> {
    await this.apply(topology);
  }

  /** Reloads requested before stop() run to completion, and stop then tears them down; later ones are refused. */
  apply(topology: Topology): Promise<ReloadChanges> {
    if (this.stopping) return Promise.reject(new ReloadError('the agent is stopping; the new configuration was not applied'));
    return this.exclusive(() => this.applyNow(topology));
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.serial.then(fn);
    this.serial = run.catch(() => {});
    return run;
  }

  private async applyNow(topology: Topology): Promise<ReloadChanges> {
    const first = !this.applied;
    const kept = first ? 'nothing was started' : 'the running configuration is kept';
    const ctx = (id: string): ComponentContext => ({
      id,
      log: this.log.child({ component: id }),
      baseDir: topology.baseDir,
      metrics: this.metrics,
      writePolicy: this.writePolicy,
      ...(this.pods ? { pods: this.pods } : {}),
    });
    const checkCtx: CheckContext = { baseDir: topology.baseDir, writePolicy: this.writePolicy };
    const claimsOf = (spec: ComponentSpec) => this.registry.get('sink', spec.type)?.claims?.(spec.config, checkCtx) ?? [];
    const plan = planReload(this.snapshot(), topology, claimsOf);
    if (plan.conflicts.length) {
      throw new ReloadError(`${plan.conflicts.map((c) => `sinks "${c.sinks[0]}" and "${c.sinks[1]}" both claim ${c.resource}`).join('; ')}: give each its own; ${kept}`);
    }
    // A failure of these fails only the component (first start, or a retry of one already down);
    // any other new part that fails refuses the whole reload.
    const tolerated = (key: string) => first || plan.retries.has(key);

    // 1. Hand over: running sinks holding what a new sink claims stop first.
    const released: [string, RunningSink][] = [];
    for (const id of holdersToRelease(plan)) {
      const s = this.sinks.get(id)!;
      this.log.info('handing a resource over to the new sink', { sink: id, resources: plan.handovers.filter((h) => h.holder === id).map((h) => h.resource) });
      await this.stopSink(id, s, Date.now() + RETIRE_DRAIN_MS);
      released.push([id, s]);
    }

    // 2. New and changed sinks.
    const newSinks = new Map<string, RunningSink>();
    const newProbes = new Map<string, RunningProbe>();
    const newPipelines: RunningPipeline[] = [];
    const rollback = async (reason: string): Promise<never> => {
      for (const rp of newPipelines) rp.subscriptions.forEach((s) => s.unsubscribe());
      for (const p of newProbes.values()) p.connection?.unsubscribe();
      await Promise.all([...newSinks].map(([id, s]) => this.stopSink(id, s, Date.now() + RETIRE_DRAIN_MS)));
      for (const [id, s] of released) await this.restartSink(id, s);
      throw new ReloadError(`${reason}; ${kept}`);
    };
    const nextSinks = new Map<string, RunningSink>();
    for (const [id, action] of plan.sinks) {
      if (action === 'remove') continue;
      if (action === 'keep') {
        nextSinks.set(id, this.sinks.get(id)!);
        continue;
      }
      const spec = topology.sinks.get(id)!;
      const s = await this.startSink(spec, ctx(id), claimsOf(spec));
      newSinks.set(id, s);
      if (!s.up && !tolerated(sinkKey(id))) await rollback(`sink "${id}" (${spec.type}) could not start: ${s.error}`);
      nextSinks.set(id, s);
    }

    // 3. New and changed probes, not attached yet.
    const nextProbes = new Map<string, RunningProbe>();
    for (const [id, action] of plan.probes) {
      if (action === 'remove') continue;
      if (action === 'keep') nextProbes.set(id, this.probes.get(id)!);
      else {
        const p = this.createProbe(topology.probes.get(id)!, ctx(id));
        newProbes.set(id, p);
        nextProbes.set(id, p);
      }
    }

    // 4. Pipelines, upstream first.
    const nextPipelines = new Map<string, RunningPipeline>();
    for (const p of topology.pipelines) {
      if (plan.pipelines.get(p.id) === 'keep') {
        nextPipelines.set(p.id, this.pipelines.get(p.id)!);
        continue;
      }
      const rp: RunningPipeline = { spec: p, out: this.buildPipeline(p, nextProbes, nextPipelines, ctx), subscriptions: [], finished: false };
      rp.subscriptions = this.subscribeSinks(rp, nextSinks);
      nextPipelines.set(p.id, rp);
      newPipelines.push(rp);
    }

    // 5. Attach new probes, now that everything downstream is listening.
    for (const p of newProbes.values()) p.connection = p.samples.connect();
    const failed = [...newProbes].filter(([id, p]) => !p.up && !tolerated(probeKey(id)));
    if (failed.length) await rollback(`probe ${failed.map(([id, p]) => `"${id}" (${p.spec.type}) could not start: ${p.error}`).join('; ')}`);

    // 6. Commit: retire what was replaced or removed.
    for (const [id, rp] of this.pipelines) if (nextPipelines.get(id) !== rp) rp.subscriptions.forEach((s) => s.unsubscribe());
    for (const [id, p] of this.probes) if (nextProbes.get(id) !== p) p.connection?.unsubscribe();
    const retired = [...this.sinks].filter(([id, s]) => nextSinks.get(id) !== s && !released.some(([, r]) => r === s));
    this.publishUp(nextProbes, nextSinks);
    const changes = describe(plan);
    this.probes = nextProbes;
    this.sinks = nextSinks;
    this.pipelines = nextPipelines;
    this.applied = true;
    await Promise.all(retired.map(([id, s]) => this.stopSink(id, s, Date.now() + RETIRE_DRAIN_MS)));
    this.checkDone();
    return changes;
  }

  private snapshot(): RunningSnapshot {
    return {
      probes: new Map([...this.probes].map(([id, p]) => [id, { hash: p.spec.hash, up: p.up }])),
      sinks: new Map([...this.sinks].map(([id, s]) => [id, { hash: s.spec.hash, up: s.up, claims: s.claims }])),
      pipelines: new Map([...this.pipelines].map(([id, p]) => [id, { hash: p.spec.hash }])),
    };
  }

  /**
   * probeflow_component_up for what runs after a commit: one series per component, removed
   * only when the component is gone or changed type, so a changed component never reads
   * absent and a refused reload never touches them.
   */
  private publishUp(probes: Map<string, RunningProbe>, sinks: Map<string, RunningSink>): void {
    const up = this.metrics.componentUp;
    const publish = (kind: 'probe' | 'sink', before: Map<string, { spec: ComponentSpec }>, after: Map<string, { spec: ComponentSpec; up: boolean }>) => {
      for (const [id, old] of before) if (after.get(id)?.spec.type !== old.spec.type) up.remove(kind, id, old.spec.type);
      for (const [id, c] of after) {
        up.labels(kind, id, c.spec.type).set(c.up ? 1 : 0);
        // At 0 from the start, so rate() sees the first error (a series born with it has no increase).
        this.metrics.componentErrors.labels(kind, id).inc(0);
      }
    };
    publish('probe', this.probes, probes);
    publish('sink', this.sinks, sinks);
  }

  private async startSink(spec: ComponentSpec, ctx: ComponentContext, claims: readonly string[]): Promise<RunningSink> {
    let sink: Sink | undefined;
    try {
      sink = this.registry.get('sink', spec.type)!.create(spec.config, ctx);
      await sink.start();
      return { spec, sink, claims, up: true };
    } catch (e) {
      const error = message(e);
      ctx.log.error(`sink "${spec.id}" (${spec.type}) could not start`, { sink: spec.id, error });
      this.metrics.componentErrors.labels('sink', spec.id).inc();
      await sink?.stop().catch(() => {});
      return { spec, ...(sink ? { sink } : {}), claims, up: false, error };
    }
  }

  /** Puts a handed-over sink back after its replacement failed. */
  private async restartSink(id: string, s: RunningSink): Promise<void> {
    try {
      await s.sink!.start();
      this.log.info('sink put back after its replacement could not start', { sink: id });
    } catch (e) {
      s.up = false;
      s.error = message(e);
      this.metrics.componentUp.labels('sink', id, s.spec.type).set(0);
      this.log.error('sink could not be put back; it stays down until a reload', { sink: id, error: s.error });
    }
  }

  /** Flush, then stop, both by `deadline`; false when it was not met. */
  private async stopSink(id: string, s: RunningSink, deadline: number): Promise<boolean> {
    if (!s.sink) return true;
    const sink = s.sink;
    try {
      let delivered = true;
      const inTime = await untilDeadline(
        (async () => {
          if (s.up) delivered = await sink.flush(deadline);
          await sink.stop();
        })(),
        deadline,
      );
      if (!inTime || !delivered) this.log.warn('sink did not deliver everything it held by its deadline; those samples are lost', { sink: id });
      return inTime && delivered;
    } catch (e) {
      this.log.warn('sink did not stop cleanly', { sink: id, error: message(e) });
      return false;
    }
  }

  /**
   * Connectable, not refcounted: it attaches on connect() and stays until the engine lets go.
   * A probe that fails is marked down and its stream stays open (NEVER): its pipelines have
   * not finished, they wait for a reload to mend it. Only a probe that completes is finite.
   */
  private createProbe(spec: ComponentSpec, ctx: ComponentContext): RunningProbe {
    const running: RunningProbe = { spec, samples: connectable(NEVER), up: true };
    const fail = (e: unknown) => {
      running.up = false;
      running.error = message(e);
      this.metrics.componentErrors.labels('probe', spec.id).inc();
      // A probe failing after the commit (a kernel refusing a late attach) reads 0 at once.
      if (this.probes.get(spec.id) === running) this.metrics.componentUp.labels('probe', spec.id, spec.type).set(0);
      ctx.log.error(`probe "${spec.id}" (${spec.type}) failed; pipelines without it keep running`, { probe: spec.id, error: running.error });
    };
    try {
      const probe = this.registry.get('probe', spec.type)!.create(spec.config, ctx);
      const samples = probe.samples().pipe(
        catchError((e: unknown) => {
          fail(e);
          return NEVER;
        }),
      );
      running.samples = connectable(samples, { connector: () => new Subject<SampleBatch>(), resetOnDisconnect: false });
    } catch (e) {
      fail(e);
    }
    return running;
  }

  private buildPipeline(
    p: PipelineSpec,
    probes: Map<string, RunningProbe>,
    pipelines: Map<string, RunningPipeline>,
    ctx: (id: string) => ComponentContext,
  ): Observable<SampleBatch> {
    const inputs = p.inputs.map((i) => (i.from === 'probe' ? probes.get(i.id)!.samples : pipelines.get(i.id)!.out));
    for (const c of [this.metrics.batchesIn, this.metrics.samplesIn, this.metrics.samplesOut]) c.labels(p.id).inc(0);
    this.metrics.componentErrors.labels('pipeline', p.id).inc(0);
    let flow = merge(...inputs).pipe(
      tap((batch) => {
        this.metrics.batchesIn.labels(p.id).inc();
        this.metrics.samplesIn.labels(p.id).inc(batch.length);
      }),
    );
    p.stages.forEach((stage, i) => {
      const id = stage.ref ?? `${p.id}.stages[${i}]`;
      flow = flow.pipe(this.registry.get('stage', stage.type)!.create(stage.config, ctx(id)));
    });
    return flow.pipe(
      limitSeries({
        maxSeries: p.maxSeries,
        staleAfterMs: SERIES_STALE_MS,
        onOverflow: (metric, n) => this.metrics.seriesOverflow.labels(p.id, metric).inc(n),
      }),
      tap((batch) => this.metrics.samplesOut.labels(p.id).inc(batch.length)),
      catchError((e: unknown) => {
        // Stages contain their errors per batch (batchOperator); one that escapes ends only this pipeline.
        this.metrics.componentErrors.labels('pipeline', p.id).inc();
        this.log.error('pipeline stopped by an error in a stage; a reload rebuilds it', { pipeline: p.id, error: e });
        return NEVER;
      }),
      share(),
    );
  }

  private subscribeSinks(rp: RunningPipeline, sinks: Map<string, RunningSink>): Subscription[] {
    const p = rp.spec;
    // One watcher per pipeline, whatever its sinks: its completion is what `done` waits for.
    const subs = [
      rp.out.subscribe({
        complete: () => {
          rp.finished = true;
          this.checkDone();
        },
      }),
    ];
    for (const sinkId of p.sinks) {
      const running = sinks.get(sinkId);
      if (!running) continue;
      subs.push(
        rp.out.subscribe((batch) => {
          if (!running.up) return;
          try {
            running.sink!.write(batch, { pipeline: p.id });
          } catch (e) {
            this.metrics.componentErrors.labels('sink', sinkId).inc();
            this.log.error('sink failed to take a batch; the batch is lost, the sink keeps running', { sink: sinkId, pipeline: p.id, error: e });
          }
        }),
      );
    }
    return subs;
  }

  private checkDone(): void {
    if (this.applied && this.pipelines.size > 0 && [...this.pipelines.values()].every((p) => p.finished)) this.resolveDone();
  }

  /** Probes and sinks that are down, with why: what /readyz reports and a reload retries. */
  down(): DownComponent[] {
    const out: DownComponent[] = [];
    for (const [kind, set] of [['probe', this.probes], ['sink', this.sinks]] as const) {
      for (const [id, c] of set) if (!c.up) out.push({ kind, id, type: c.spec.type, error: c.error ?? 'failed' });
    }
    return out;
  }

  status(): EngineStatus {
    const entry = (c: { spec: ComponentSpec; up: boolean; error?: string }): ComponentStatus => ({ type: c.spec.type, up: c.up, ...(c.error ? { error: c.error } : {}) });
    return {
      probes: Object.fromEntries([...this.probes].map(([id, p]) => [id, entry(p)])),
      sinks: Object.fromEntries([...this.sinks].map(([id, s]) => [id, entry(s)])),
      pipelines: [...this.pipelines.keys()],
    };
  }

  /**
   * Drain, all by one deadline: pipelines let go of their sinks (no new data), sinks flush
   * and stop, then probes detach — last, because detaching is slow (~0.1 s a link) and must not
   * eat the time the sinks need; their links close off the main thread, waited for until the
   * deadline or KERNEL_RELEASE_MS, whichever is later. Waits for a reload in progress; none
   * starts after this.
   */
  stop(timeoutMs = 10_000): Promise<boolean> {
    this.stopping = true;
    return this.exclusive(async () => {
      const deadline = Date.now() + timeoutMs;
      for (const rp of this.pipelines.values()) rp.subscriptions.forEach((s) => s.unsubscribe());
      const drained = (await Promise.all([...this.sinks].map(([id, s]) => this.stopSink(id, s, deadline)))).every(Boolean);
      if (!drained) this.log.warn('sinks did not drain in time; exiting anyway', { timeout_ms: timeoutMs });
      // Released, but kept for status(): the final log lines say what ran and what failed.
      for (const p of this.probes.values()) p.connection?.unsubscribe();
      // Links close off the main thread; exiting before they have would make the kernel close
      // the rest one by one in the exit path. A bounded wait, after the sinks had theirs.
      const t0 = Date.now();
      const inFlight = releasesInFlight();
      const released = await releasesSettled(Math.max(deadline, t0 + KERNEL_RELEASE_MS));
      if (!released) this.log.warn('probes still detaching; exiting anyway', { ms: Date.now() - t0, in_flight: releasesInFlight() });
      else if (inFlight) this.log.info('probes detached', { ms: Date.now() - t0 });
      return drained;
    });
  }
}

function describe(plan: ReloadPlan): ReloadChanges {
  const changes: ReloadChanges = { added: [], changed: [], removed: [], kept: [] };
  const bucket = { add: changes.added, change: changes.changed, remove: changes.removed, keep: changes.kept } as const;
  for (const [kind, actions] of [['probe', plan.probes], ['sink', plan.sinks], ['pipeline', plan.pipelines]] as const) {
    for (const [id, a] of actions) bucket[a].push(`${kind}:${id}`);
  }
  return changes;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}


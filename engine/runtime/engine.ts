import { catchError, connectable, EMPTY, merge, share, Subject, tap, type Connectable, type Observable, type Subscription } from 'rxjs';
import type { ComponentContext, PodLookup, Sink } from '../components/contracts.js';
import type { Registry } from '../components/registry.js';
import type { ComponentSpec, PipelineSpec, Topology } from '../graph/topology.js';
import type { SampleBatch } from '../model/sample.js';
import type { Logger } from '../util/log.js';
import { limitSeries } from './series-limit.js';
import { SelfMetrics } from './self-metrics.js';
import { WritePolicy } from '../security/write-policy.js';

const SERIES_STALE_MS = 5 * 60_000;

interface RunningProbe {
  spec: ComponentSpec;
  samples: Connectable<SampleBatch>;
  connection?: Subscription;
  up: boolean;
  error?: string;
}

interface RunningSink {
  spec: ComponentSpec;
  sink: Sink;
  up: boolean;
}

interface RunningPipeline {
  spec: PipelineSpec;
  /** Pipeline hash + the hashes of its sinks: equal keys mean "keep it running". */
  key: string;
  out: Observable<SampleBatch>;
  subscriptions: Subscription[];
}

export interface EngineStatus {
  probes: Record<string, { type: string; up: boolean; error?: string }>;
  sinks: Record<string, { type: string; up: boolean }>;
  pipelines: string[];
}

export interface ReloadChanges {
  added: string[];
  changed: string[];
  removed: string[];
  kept: string[];
}

/** A reload whose new components could not be built; nothing of the running topology changed. */
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
 * per (pipeline, sink). Failures are contained: a probe that errors ends its own stream, a
 * sink that throws loses that batch; everything else keeps running.
 *
 * `apply` is also the reload: it diffs the new topology against the running one by component
 * id and config hash (Vector's topology reload), builds only what is new or changed, and
 * keeps the rest running — an unchanged probe keeps its BPF links and maps, an unchanged sink
 * its queue, an unchanged pipeline its stage state. If a new part cannot be built, the new
 * parts are torn down again and the running topology is left as it was.
 */
export class Engine {
  readonly metrics: SelfMetrics;
  private probes = new Map<string, RunningProbe>();
  private sinks = new Map<string, RunningSink>();
  private pipelines = new Map<string, RunningPipeline>();
  private active = 0;
  private resolveDone: () => void = () => {};
  /** Resolves when every pipeline has completed (finite probes), e.g. a replay that ended. */
  done: Promise<void> = Promise.resolve();

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

  async apply(topology: Topology): Promise<ReloadChanges> {
    const ctx = (id: string): ComponentContext => ({
      id,
      log: this.log.child({ component: id }),
      baseDir: topology.baseDir,
      metrics: this.metrics,
      writePolicy: this.writePolicy,
      ...(this.pods ? { pods: this.pods } : {}),
    });
    const usedSinks = new Set(topology.pipelines.flatMap((p) => p.sinks));
    const keep = <T extends { spec: ComponentSpec }>(running: Map<string, T>, spec: ComponentSpec) => {
      const r = running.get(spec.id);
      return r && r.spec.hash === spec.hash ? r : undefined;
    };

    // 1. New and changed sinks start first: a sink that cannot start refuses the reload.
    const newSinks = new Map<string, RunningSink>();
    const nextSinks = new Map<string, RunningSink>();
    for (const [id, spec] of topology.sinks) {
      if (!usedSinks.has(id)) continue;
      const kept = keep(this.sinks, spec);
      if (kept) {
        nextSinks.set(id, kept);
        continue;
      }
      const sink = await this.startSink(spec, ctx(id));
      if (!sink) {
        if (this.probes.size === 0) continue; // first start: a failed sink fails only itself
        await Promise.all([...newSinks.values()].map((s) => s.sink.stop().catch(() => {})));
        throw new ReloadError(`sink "${id}" (${spec.type}) could not start; the running configuration is kept`);
      }
      newSinks.set(id, sink);
      nextSinks.set(id, sink);
    }

    // 2. New and changed probes, not attached yet.
    const newProbes = new Map<string, RunningProbe>();
    const nextProbes = new Map<string, RunningProbe>();
    for (const [id, spec] of topology.probes) {
      const kept = keep(this.probes, spec);
      if (kept) {
        nextProbes.set(id, kept);
        continue;
      }
      const p = this.createProbe(spec, ctx(id));
      newProbes.set(id, p);
      nextProbes.set(id, p);
    }

    // 3. Pipelines: keep those whose own config, upstream and sinks are unchanged.
    const nextPipelines = new Map<string, RunningPipeline>();
    const newPipelines: RunningPipeline[] = [];
    const firstStart = this.pipelines.size === 0;
    if (firstStart) this.done = new Promise((resolve) => (this.resolveDone = resolve));
    for (const p of topology.pipelines) {
      const key = [p.hash, ...p.sinks.map((s) => nextSinks.get(s)?.spec.hash ?? 'missing')].join('/');
      const running = this.pipelines.get(p.id);
      if (running && running.key === key) {
        nextPipelines.set(p.id, running);
        continue;
      }
      const out = this.buildPipeline(p, nextProbes, nextPipelines, ctx);
      const rp: RunningPipeline = { spec: p, key, out, subscriptions: this.subscribeSinks(p, out, nextSinks) };
      nextPipelines.set(p.id, rp);
      newPipelines.push(rp);
    }

    // 4. Attach new probes, now that everything downstream is listening.
    for (const [id, p] of newProbes) p.connection = p.samples.connect();
    const failed = firstStart ? [] : [...newProbes].filter(([, p]) => !p.up);
    if (failed.length) {
      for (const rp of newPipelines) rp.subscriptions.forEach((s) => s.unsubscribe());
      for (const p of newProbes.values()) p.connection?.unsubscribe();
      await Promise.all([...newSinks.values()].map((s) => s.sink.stop().catch(() => {})));
      throw new ReloadError(`probe ${failed.map(([id, p]) => `"${id}" (${p.error})`).join(', ')} could not start; the running configuration is kept`);
    }

    // 5. Commit: retire what was replaced or removed.
    const changes: ReloadChanges = { added: [], changed: [], removed: [], kept: [] };
    const classify = (id: string, isNew: boolean, existed: boolean) => (isNew ? (existed ? changes.changed : changes.added) : changes.kept).push(id);
    for (const [id] of nextProbes) classify(`probe:${id}`, newProbes.has(id), this.probes.has(id));
    for (const [id] of nextSinks) classify(`sink:${id}`, newSinks.has(id), this.sinks.has(id));
    for (const [id, rp] of nextPipelines) classify(`pipeline:${id}`, newPipelines.includes(rp), this.pipelines.has(id));
    for (const [id, rp] of this.pipelines) {
      if (nextPipelines.get(id) === rp) continue;
      rp.subscriptions.forEach((s) => s.unsubscribe());
      if (!nextPipelines.has(id)) changes.removed.push(`pipeline:${id}`);
    }
    for (const [id, p] of this.probes) {
      if (nextProbes.get(id) === p) continue;
      p.connection?.unsubscribe();
      this.metrics.componentUp.remove('probe', id, p.spec.type);
      if (!nextProbes.has(id)) changes.removed.push(`probe:${id}`);
    }
    const retiredSinks = [...this.sinks].filter(([id, s]) => nextSinks.get(id) !== s);
    this.probes = nextProbes;
    this.sinks = nextSinks;
    this.pipelines = nextPipelines;
    for (const [id, s] of retiredSinks) {
      if (!nextSinks.has(id)) changes.removed.push(`sink:${id}`);
      this.metrics.componentUp.remove('sink', id, s.spec.type);
      await this.stopSink(id, s);
    }
    if (this.active === 0) this.resolveDone();
    return changes;
  }

  private async startSink(spec: ComponentSpec, ctx: ComponentContext): Promise<RunningSink | undefined> {
    try {
      const sink = this.registry.get('sink', spec.type)!.create(spec.config, ctx);
      await sink.start();
      this.metrics.componentUp.labels('sink', spec.id, spec.type).set(1);
      return { spec, sink, up: true };
    } catch (e) {
      this.failed('sink', spec.id, spec.type, e);
      return undefined;
    }
  }

  private async stopSink(id: string, s: RunningSink): Promise<void> {
    try {
      await s.sink.flush();
      await s.sink.stop();
    } catch (e) {
      this.log.warn('sink did not stop cleanly', { sink: id, error: e });
    }
  }

  /** Connectable, not refcounted: it attaches on connect() and stays until the engine lets go. */
  private createProbe(spec: ComponentSpec, ctx: ComponentContext): RunningProbe {
    const running: RunningProbe = { spec, samples: connectable(EMPTY), up: true };
    try {
      const probe = this.registry.get('probe', spec.type)!.create(spec.config, ctx);
      const samples = probe.samples().pipe(
        catchError((e: unknown) => {
          running.up = false;
          running.error = e instanceof Error ? e.message : String(e);
          this.failed('probe', spec.id, spec.type, e);
          return EMPTY;
        }),
      );
      running.samples = connectable(samples, { connector: () => new Subject<SampleBatch>(), resetOnDisconnect: false });
      this.metrics.componentUp.labels('probe', spec.id, spec.type).set(1);
    } catch (e) {
      running.up = false;
      running.error = e instanceof Error ? e.message : String(e);
      this.failed('probe', spec.id, spec.type, e);
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
        // A stage threw: this pipeline stops, the others do not.
        this.metrics.componentErrors.labels('pipeline', p.id).inc();
        this.log.error('pipeline stopped by an error in a stage', { pipeline: p.id, error: e });
        return EMPTY;
      }),
      share(),
    );
  }

  private subscribeSinks(p: PipelineSpec, out: Observable<SampleBatch>, sinks: Map<string, RunningSink>): Subscription[] {
    const subs: Subscription[] = [];
    for (const sinkId of p.sinks) {
      const running = sinks.get(sinkId);
      if (!running) continue;
      this.active++;
      subs.push(
        out.subscribe({
          next: (batch) => {
            if (!running.up) return;
            try {
              running.sink.write(batch, { pipeline: p.id });
            } catch (e) {
              this.metrics.componentErrors.labels('sink', sinkId).inc();
              this.log.error('sink failed to take a batch; the batch is lost, the sink keeps running', { sink: sinkId, pipeline: p.id, error: e });
            }
          },
          complete: () => {
            if (--this.active === 0) this.resolveDone();
          },
        }),
      );
    }
    return subs;
  }

  private failed(kind: 'probe' | 'sink', id: string, type: string, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    this.metrics.componentErrors.labels(kind, id).inc();
    this.metrics.componentUp.labels(kind, id, type).set(0);
    this.log.error(`${kind} "${id}" (${type}) failed; pipelines without it keep running`, { [kind]: id, error: message });
  }

  status(): EngineStatus {
    return {
      probes: Object.fromEntries([...this.probes].map(([id, p]) => [id, { type: p.spec.type, up: p.up, ...(p.error ? { error: p.error } : {}) }])),
      sinks: Object.fromEntries([...this.sinks].map(([id, s]) => [id, { type: s.spec.type, up: s.up }])),
      pipelines: [...this.pipelines.keys()],
    };
  }

  /**
   * Drain: detach probes first (no new data), then flush and stop sinks. Bounded, so a sink
   * stuck on a dead network cannot hold the node's agent past its termination grace period.
   */
  async stop(timeoutMs = 10_000): Promise<boolean> {
    // Released, but kept for status(): the final log lines say what ran and what failed.
    for (const p of this.probes.values()) p.connection?.unsubscribe();
    for (const rp of this.pipelines.values()) rp.subscriptions.forEach((s) => s.unsubscribe());
    const sinks = [...this.sinks.entries()];
    const drain = Promise.all(sinks.map(([id, s]) => this.stopSink(id, s)));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const ok = await Promise.race([drain.then(() => true as const), timedOut]);
    clearTimeout(timer);
    if (!ok) this.log.warn('sinks did not drain in time; exiting anyway', { timeout_ms: timeoutMs });
    return ok;
  }
}

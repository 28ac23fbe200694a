import { catchError, connectable, EMPTY, merge, share, Subject, tap, type Connectable, type Observable, type Subscription } from 'rxjs';
import type { ComponentContext, PodLookup, Sink } from '../components/contracts.js';
import type { Registry } from '../components/registry.js';
import type { PipelineSpec, Topology } from '../graph/topology.js';
import type { SampleBatch } from '../model/sample.js';
import type { Logger } from '../util/log.js';
import { limitSeries } from './series-limit.js';
import { SelfMetrics } from './self-metrics.js';

const SERIES_STALE_MS = 5 * 60_000;

interface RunningSink {
  type: string;
  sink: Sink;
  up: boolean;
}

export interface EngineStatus {
  probes: Record<string, { type: string; up: boolean; error?: string }>;
  sinks: Record<string, { type: string; up: boolean }>;
  pipelines: string[];
}

/**
 * Runs a topology: one shared observable per probe (one attachment however many pipelines
 * read it), each pipeline as inputs → stages → series limit, and one subscription per
 * (pipeline, sink). Failures are contained: a probe that errors ends its own stream, a sink
 * that throws loses that batch; everything else keeps running.
 */
export class Engine {
  readonly metrics: SelfMetrics;
  private subscriptions: Subscription[] = [];
  private sinks = new Map<string, RunningSink>();
  private probeState = new Map<string, { type: string; up: boolean; error?: string }>();
  private pipelineIds: string[] = [];
  private active = 0;
  private resolveDone: () => void = () => {};
  /** Resolves when every pipeline has completed (finite probes), e.g. a replay that ended. */
  done: Promise<void> = Promise.resolve();

  constructor(
    private readonly registry: Registry,
    private readonly log: Logger,
    metrics?: SelfMetrics,
    private readonly pods?: PodLookup,
  ) {
    this.metrics = metrics ?? new SelfMetrics();
  }

  async start(topology: Topology): Promise<void> {
    const ctx = (id: string): ComponentContext => ({
      id,
      log: this.log.child({ component: id }),
      baseDir: topology.baseDir,
      metrics: this.metrics,
      ...(this.pods ? { pods: this.pods } : {}),
    });

    const usedSinks = new Set(topology.pipelines.flatMap((p) => p.sinks));
    for (const [id, spec] of topology.sinks) {
      if (!usedSinks.has(id)) continue;
      const factory = this.registry.get('sink', spec.type)!;
      try {
        const sink = factory.create(spec.config, ctx(id));
        await sink.start();
        this.sinks.set(id, { type: spec.type, sink, up: true });
        this.metrics.componentUp.labels('sink', id, spec.type).set(1);
      } catch (e) {
        this.failed('sink', id, spec.type, e);
      }
    }

    // Connectable, not refcounted: a probe attaches once every pipeline is subscribed (no
    // subscriber misses the first batch) and stays attached while the engine says so.
    const probes = new Map<string, Connectable<SampleBatch>>();
    for (const [id, spec] of topology.probes) {
      const factory = this.registry.get('probe', spec.type)!;
      this.probeState.set(id, { type: spec.type, up: true });
      try {
        const probe = factory.create(spec.config, ctx(id));
        const samples = probe.samples().pipe(
          catchError((e: unknown) => {
            this.failed('probe', id, spec.type, e);
            return EMPTY;
          }),
        );
        probes.set(id, connectable(samples, { connector: () => new Subject<SampleBatch>(), resetOnDisconnect: false }));
        this.metrics.componentUp.labels('probe', id, spec.type).set(1);
      } catch (e) {
        this.failed('probe', id, spec.type, e);
        probes.set(id, connectable(EMPTY));
      }
    }

    const outputs = new Map<string, Observable<SampleBatch>>();
    const subscribers: { pipeline: PipelineSpec; out: Observable<SampleBatch> }[] = [];
    for (const p of topology.pipelines) {
      const out = this.buildPipeline(p, probes, outputs, ctx);
      outputs.set(p.id, out);
      subscribers.push({ pipeline: p, out });
    }
    this.pipelineIds = topology.pipelines.map((p) => p.id);

    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    for (const { pipeline, out } of subscribers) {
      for (const sinkId of pipeline.sinks) {
        const running = this.sinks.get(sinkId);
        if (!running) continue;
        this.active++;
        const sub = out.subscribe({
          next: (batch) => {
            if (!running.up) return;
            try {
              running.sink.write(batch, { pipeline: pipeline.id });
            } catch (e) {
              this.metrics.componentErrors.labels('sink', sinkId).inc();
              this.log.error('sink failed to take a batch; the batch is lost, the sink keeps running', { sink: sinkId, pipeline: pipeline.id, error: e });
            }
          },
          complete: () => this.completed(),
        });
        this.subscriptions.push(sub);
      }
    }
    // Attach probes last; their connections are released first on stop.
    this.subscriptions.unshift(...[...probes.values()].map((p) => p.connect()));
    if (this.active === 0) this.resolveDone();
  }

  private buildPipeline(
    p: PipelineSpec,
    probes: Map<string, Connectable<SampleBatch>>,
    outputs: Map<string, Observable<SampleBatch>>,
    ctx: (id: string) => ComponentContext,
  ): Observable<SampleBatch> {
    const inputs = p.inputs.map((i) => (i.from === 'probe' ? probes.get(i.id)! : outputs.get(i.id)!));
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

  private failed(kind: 'probe' | 'sink', id: string, type: string, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    this.metrics.componentErrors.labels(kind, id).inc();
    this.metrics.componentUp.labels(kind, id, type).set(0);
    if (kind === 'probe') this.probeState.set(id, { type, up: false, error: message });
    this.log.error(`${kind} "${id}" (${type}) failed; pipelines without it keep running`, { [kind]: id, error: message });
  }

  private completed(): void {
    if (--this.active === 0) this.resolveDone();
  }

  status(): EngineStatus {
    return {
      probes: Object.fromEntries(this.probeState),
      sinks: Object.fromEntries([...this.sinks].map(([id, s]) => [id, { type: s.type, up: s.up }])),
      pipelines: this.pipelineIds,
    };
  }

  /**
   * Drain: detach probes first (no new data), then flush and stop sinks. Bounded, so a sink
   * stuck on a dead network cannot hold the node's agent past its termination grace period.
   */
  async stop(timeoutMs = 10_000): Promise<boolean> {
    for (const s of this.subscriptions) s.unsubscribe();
    this.subscriptions = [];
    const sinks = [...this.sinks.entries()];
    this.sinks.clear();
    const drain = Promise.all(
      sinks.map(async ([id, s]) => {
        try {
          await s.sink.flush();
          await s.sink.stop();
        } catch (e) {
          this.log.warn('sink did not stop cleanly', { sink: id, error: e });
        }
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const ok = await Promise.race([drain.then(() => true as const), timedOut]);
    clearTimeout(timer);
    if (!ok) this.log.warn('sinks did not drain in time; exiting anyway', { timeout_ms: timeoutMs });
    return ok;
  }
}

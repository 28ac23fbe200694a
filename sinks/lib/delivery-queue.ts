import type { Logger } from '../../engine/util/log.js';
import type { SelfMetrics } from '../../engine/runtime/self-metrics.js';
import { DeliveryError } from './delivery-error.js';

export interface DeliveryOptions<T> {
  sink: string;
  /** Items held at most (queued + in flight); items beyond are dropped and counted. */
  capacity: number;
  maxBatch: number;
  /** A batch smaller than maxBatch goes out this long after its first item arrived. */
  batchDeadlineMs: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  /**
   * Delivers a batch or throws a DeliveryError. A receiver that took the batch but refused part
   * of it for good (OTLP's partial success) says how many: they are counted failed, not sent.
   */
  send: (batch: T[]) => Promise<void | { rejected: number }>;
  metrics: SelfMetrics;
  log: Logger;
  /** Deterministic jitter in tests. */
  random?: () => number;
}

/**
 * The one queue every network sink shares: bounded, batched, one batch in flight at a time
 * (so samples of a series stay in order, as remote_write requires), retried with capped
 * exponential backoff and full jitter — or exactly what Retry-After says — until the
 * receiver takes it or refuses it for good. Every item is accounted for: sent, failed
 * (refused), or dropped (queue full), each counted.
 */
export class DeliveryQueue<T> {
  private queue: T[] = [];
  private inFlight = 0;
  private firstQueuedAt = 0;
  private timer?: NodeJS.Timeout;
  private sending?: Promise<void>;
  private stopped = false;
  /** Items given up on because a flush deadline or stop came before they could be delivered. */
  private lostToDeadline = 0;
  private readonly random: () => number;
  private wake?: () => void;

  constructor(private readonly o: DeliveryOptions<T>) {
    this.random = o.random ?? Math.random;
    // Every series at 0 from the start: rate() misses a counter's first increment when the
    // series only appears with it, and a dashboard panel reads "no data" instead of 0.
    const m = o.metrics;
    for (const c of [m.sinkSent, m.sinkFailed, m.sinkRetries]) c.labels(o.sink).inc(0);
    for (const reason of ['queue_full', 'shutdown']) m.sinkDropped.labels(o.sink, reason).inc(0);
    m.sinkQueueLength.labels(o.sink).set(0);
  }

  get length(): number {
    return this.queue.length + this.inFlight;
  }

  push(items: readonly T[]): void {
    if (this.stopped || items.length === 0) return;
    const room = Math.max(0, this.o.capacity - this.length);
    const take = items.length <= room ? items : items.slice(0, room);
    if (take.length < items.length) this.o.metrics.sinkDropped.labels(this.o.sink, 'queue_full').inc(items.length - take.length);
    if (take.length === 0) return;
    if (this.queue.length === 0) this.firstQueuedAt = Date.now();
    for (const item of take) this.queue.push(item);
    this.gauge();
    this.schedule();
  }

  /**
   * Sends everything queued now, retrying, until sent or `deadline`. False if some was not
   * delivered: still queued, or given up on because the deadline came first.
   */
  async flush(deadline = Date.now() + 10_000): Promise<boolean> {
    clearTimeout(this.timer);
    const lostBefore = this.lostToDeadline;
    while (this.length > 0 && Date.now() < deadline) {
      if (this.sending) await Promise.race([this.sending, sleep(deadline - Date.now())]);
      else this.startSend(deadline);
    }
    return this.length === 0 && this.lostToDeadline === lostBefore;
  }

  async stop(deadline?: number): Promise<void> {
    await this.flush(deadline);
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
  }

  private schedule(): void {
    if (this.sending || this.stopped) return;
    if (this.queue.length >= this.o.maxBatch) {
      clearTimeout(this.timer);
      this.startSend();
      return;
    }
    if (this.timer) return;
    const wait = Math.max(0, this.firstQueuedAt + this.o.batchDeadlineMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.sending && this.queue.length) this.startSend();
    }, wait);
  }

  private startSend(deadline = Infinity): void {
    const batch = this.queue.splice(0, this.o.maxBatch);
    if (batch.length === 0) return;
    this.inFlight = batch.length;
    this.sending = this.deliver(batch, deadline).finally(() => {
      this.inFlight = 0;
      this.sending = undefined;
      this.gauge();
      if (this.queue.length) {
        this.firstQueuedAt = Math.min(this.firstQueuedAt, Date.now());
        this.schedule();
      }
    });
  }

  private async deliver(batch: T[], deadline: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const rejected = Math.min(batch.length, (await this.o.send(batch))?.rejected ?? 0);
        this.sent(batch.length - rejected);
        if (rejected > 0) this.o.metrics.sinkFailed.labels(this.o.sink).inc(rejected);
        return;
      } catch (e) {
        const err = e instanceof DeliveryError ? e : new DeliveryError((e as Error).message, true);
        if (err.delivered > 0) {
          // Part of the batch got through: what is retried or lost from here is the rest only.
          this.sent(err.delivered);
          batch = batch.slice(err.delivered);
          this.inFlight = batch.length;
        }
        if (!err.retryable) {
          this.o.metrics.sinkFailed.labels(this.o.sink).inc(batch.length);
          this.o.log.error('receiver refused a batch; it is not retried', { sink: this.o.sink, samples: batch.length, error: err.message });
          return;
        }
        const backoff = err.retryAfterMs ?? this.backoff(attempt);
        if (this.stopped || Date.now() + backoff > deadline) {
          // Draining on shutdown ran out of time: what is left is lost, and counted.
          this.o.metrics.sinkDropped.labels(this.o.sink, 'shutdown').inc(batch.length);
          this.lostToDeadline += batch.length;
          return;
        }
        this.o.metrics.sinkRetries.labels(this.o.sink).inc();
        if (attempt === 0 || attempt % 10 === 0) this.o.log.warn('send failed; retrying', { sink: this.o.sink, attempt: attempt + 1, retry_in_ms: Math.round(backoff), error: err.message });
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, backoff);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    }
  }

  private sent(n: number): void {
    this.o.metrics.sinkSent.labels(this.o.sink).inc(n);
    this.o.metrics.sinkLastSuccess.labels(this.o.sink).set(Date.now() / 1000);
  }

  /** Full jitter (AWS architecture blog): uniform in [0, min(cap, base·2^attempt)]. */
  private backoff(attempt: number): number {
    const ceiling = Math.min(this.o.maxBackoffMs, this.o.minBackoffMs * 2 ** attempt);
    return Math.max(this.o.minBackoffMs, this.random() * ceiling);
  }

  private gauge(): void {
    this.o.metrics.sinkQueueLength.labels(this.o.sink).set(this.length);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

import type { ComponentContext } from '../../engine/components/contracts.js';
import { parseDuration } from '../../engine/util/duration.js';
import type { DeliveryOptions } from './delivery-queue.js';
import type { RemoteWriteSinkConfig } from '../../schemas/types.generated.js';

/** Described once, in schemas/common.schema.json#/$defs/queue. */
export type QueueConfig = NonNullable<RemoteWriteSinkConfig['queue']>;

/** Queue config with defaults (as Prometheus' queue_config has them, capacity aside). */
export function queueOptions<T>(q: QueueConfig | undefined, ctx: ComponentContext, send: DeliveryOptions<T>['send']): DeliveryOptions<T> {
  return {
    sink: ctx.id,
    capacity: q?.capacity ?? 100_000,
    maxBatch: q?.max_samples_per_send ?? 2000,
    batchDeadlineMs: parseDuration(q?.batch_send_deadline ?? '5s'),
    minBackoffMs: parseDuration(q?.min_backoff ?? '30ms'),
    maxBackoffMs: parseDuration(q?.max_backoff ?? '5s'),
    send,
    metrics: ctx.metrics,
    log: ctx.log,
  };
}

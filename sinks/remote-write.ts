import type { SinkFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { RemoteWriteSinkConfig } from '../schemas/types.generated.js';
import { kinds } from '../engine/model/kinds.js';
import { DeliveryQueue } from './lib/delivery-queue.js';
import { authProblems, httpClient, post, remoteWriteRules } from './lib/http-client.js';
import { queueOptions } from './lib/queue-options.js';
import { toWireSamples, type WireSample } from './lib/remote-write-samples.js';

/** The headers remote_write 1.0 requires of a sender. */
export const REMOTE_WRITE_HEADERS = {
  'content-encoding': 'snappy',
  'content-type': 'application/x-protobuf',
  'x-prometheus-remote-write-version': '0.1.0',
};

export const remoteWriteSink: SinkFactory<RemoteWriteSinkConfig> = {
  kind: 'sink',
  type: 'remote_write',
  description: 'Prometheus remote_write 1.0 (protobuf + snappy) with batching, retries and a bounded queue',
  schema: loadComponentSchema('sink', 'remote_write'),
  accepts: () => kinds('counter', 'gauge', 'histogram'),
  check: (config) => authProblems(config),
  create(config, ctx) {
    const { client, authHeaders } = httpClient(config);
    const rules = remoteWriteRules({ retryOn429: config.queue?.retry_on_http_429 ?? false });
    const queue = new DeliveryQueue<WireSample>(
      queueOptions(config.queue, ctx, async (batch) => {
        // protobufjs and snappy load with the first batch, not with every agent.
        const { encodeWriteRequest } = await import('./lib/remote-write-encoder.js');
        await post(client, config.url, encodeWriteRequest(batch), { ...REMOTE_WRITE_HEADERS, ...authHeaders() }, rules);
      }),
    );
    return {
      async start() {
        ctx.log.info('remote_write sink ready', { url: config.url });
      },
      write(batch) {
        const wire: WireSample[] = [];
        for (const s of batch) if (s.kind !== 'event') wire.push(...toWireSamples(s, config.external_labels));
        queue.push(wire);
      },
      flush: (deadline) => queue.flush(deadline),
      stop: () => queue.stop(Date.now() + 5000),
    };
  },
};

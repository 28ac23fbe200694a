import { gzipSync } from 'node:zlib';
import type { ConfigProblem, SinkFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import { kinds } from '../engine/model/kinds.js';
import type { OtlpSinkConfig } from '../schemas/types.generated.js';
import { classifyOtlpHttp, DeliveryError } from './lib/delivery-error.js';
import { DeliveryQueue } from './lib/delivery-queue.js';
import { authProblems, httpClient, post } from './lib/http-client.js';
import { OtlpPointBuilder, type OtlpPoint } from './lib/otlp-points.js';
import { queueOptions } from './lib/queue-options.js';

export const otlpSink: SinkFactory<OtlpSinkConfig> = {
  kind: 'sink',
  type: 'otlp',
  description: 'OpenTelemetry OTLP/HTTP protobuf metrics, cumulative, with process and Kubernetes resource attributes',
  schema: loadComponentSchema('sink', 'otlp'),
  accepts: () => kinds('counter', 'gauge', 'histogram'),
  check(config) {
    const problems: ConfigProblem[] = authProblems(config);
    if (config.queue?.retry_on_http_429 !== undefined) problems.push({ path: ['queue', 'retry_on_http_429'], message: 'the OTLP specification says 429 is always retried (honouring Retry-After): remove retry_on_http_429' });
    if (/\/v1\/metrics\/v1\/metrics$/.test(config.endpoint)) problems.push({ path: ['endpoint'], message: 'the endpoint ends in /v1/metrics twice: give the full metrics URL once' });
    return problems;
  },
  create(config, ctx) {
    const { client, authHeaders } = httpClient({ ...config, timeout: config.timeout ?? '10s' });
    const gzip = (config.compression ?? 'gzip') === 'gzip';
    const builder = new OtlpPointBuilder({ ...(config.resource_attributes ? { attributes: config.resource_attributes } : {}), ...(process.env.NODE_NAME ? { nodeName: process.env.NODE_NAME } : {}) });
    const partialSeen = new Set<string>();
    const queue = new DeliveryQueue<OtlpPoint>(
      queueOptions(config.queue, ctx, async (batch) => {
        // protobufjs loads with the first batch, not with every agent.
        const { decodeExportResponse, encodeExportRequest } = await import('./lib/otlp-encoder.js');
        const body = encodeExportRequest(batch);
        const headers: Record<string, string> = { 'content-type': 'application/x-protobuf', ...(gzip ? { 'content-encoding': 'gzip' } : {}), ...authHeaders() };
        const res = await post(client, config.endpoint, gzip ? gzipSync(body) : body, headers, classifyOtlpHttp);
        if (!/protobuf/.test(res.contentType)) return;
        let answer;
        try {
          answer = decodeExportResponse(res.body);
        } catch (e) {
          throw new DeliveryError(`the receiver's answer is not an ExportMetricsServiceResponse (${(e as Error).message}); the data was taken`, false);
        }
        // A partial success is final: the refused points would be refused again.
        if (answer.rejected > 0 || answer.message) {
          const key = answer.message.slice(0, 200);
          if (!partialSeen.has(key)) {
            partialSeen.add(key);
            ctx.log.warn('the receiver refused part of a batch (OTLP partial success); those points are not sent again', { rejected: answer.rejected, error: answer.message });
          }
          return { rejected: answer.rejected };
        }
      }),
    );
    return {
      async start() {
        ctx.log.info('otlp sink ready', { endpoint: config.endpoint, compression: gzip ? 'gzip' : 'none' });
      },
      write(batch) {
        const points: OtlpPoint[] = [];
        for (const s of batch) for (const p of builder.points(s)) points.push(p);
        queue.push(points);
      },
      flush: (deadline) => queue.flush(deadline),
      stop: () => queue.stop(Date.now() + 5000),
    };
  },
};

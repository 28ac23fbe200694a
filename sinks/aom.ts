import { readFileSync } from 'node:fs';
import type { ConfigProblem, Sink, SinkFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { AomSinkConfig } from '../schemas/types.generated.js';
import { kinds } from '../engine/model/kinds.js';
import { DeliveryError } from './lib/delivery-error.js';
import { DeliveryQueue } from './lib/delivery-queue.js';
import { httpClient, post, remoteWriteRules } from './lib/http-client.js';
import { namespaceProblem, splitBySize, toMetricData, type MetricDataItem } from './lib/aom-metricdata.js';
import { queueOptions } from './lib/queue-options.js';
import { remoteWriteSink } from './remote-write.js';

/** AOM's documented endpoints for a region. */
export function aomEndpoints(region: string, projectId: string) {
  return {
    push: `https://aom-access.${region}.myhuaweicloud.com:8443/v1/${projectId}/push`,
    metricdata: `https://aom.${region}.myhuaweicloud.com/v1/${projectId}/ams/report/metricdata`,
  };
}

function secret(value: string | undefined, file: string | undefined): string | undefined {
  return file ? readFileSync(file, 'utf8').trim() : value;
}

export const aomSink: SinkFactory<AomSinkConfig> = {
  kind: 'sink',
  type: 'aom',
  description: 'Huawei Cloud AOM: remote_write to its Prometheus endpoint, or the AddMetricData API',
  schema: loadComponentSchema('sink', 'aom'),
  accepts: (config) => (config.mode === 'prometheus' ? kinds('counter', 'gauge', 'histogram') : kinds('counter', 'gauge')),
  check(config) {
    const problems: ConfigProblem[] = [];
    if (!config.region && !config.url) problems.push({ path: [], message: 'give `region` (or `url` for a private endpoint)' });
    if (config.mode === 'prometheus') {
      if (!config.access_code && !config.access_code_file) problems.push({ path: [], message: 'mode prometheus needs access_code (as ${AOM_ACCESS_CODE}) or access_code_file' });
      for (const k of ['token', 'token_file', 'namespace', 'units'] as const) if (config[k] !== undefined) problems.push({ path: [k], message: `${k} is for mode metricdata` });
    } else {
      if (!config.token && !config.token_file) problems.push({ path: [], message: 'mode metricdata needs token (as ${AOM_TOKEN}) or token_file' });
      if (!config.namespace) problems.push({ path: [], message: 'mode metricdata needs a namespace such as probeflow.go' });
      else {
        const p = namespaceProblem(config.namespace);
        if (p) problems.push({ path: ['namespace'], message: p });
      }
      for (const k of ['access_code', 'access_code_file'] as const) if (config[k] !== undefined) problems.push({ path: [k], message: `${k} is for mode prometheus` });
    }
    return problems;
  },
  create(config, ctx): Sink {
    const base = config.url?.replace(/\/$/, '');
    if (config.mode === 'prometheus') {
      const url = base ? `${base}/v1/${config.project_id}/push` : aomEndpoints(config.region!, config.project_id).push;
      const accessCode = secret(config.access_code, config.access_code_file);
      return remoteWriteSink.create(
        {
          type: 'remote_write',
          url,
          ...(accessCode ? { bearer_token: accessCode } : {}),
          ...(config.tls ? { tls: config.tls } : {}),
          ...(config.timeout ? { timeout: config.timeout } : {}),
          ...(config.external_labels ? { external_labels: config.external_labels } : {}),
          ...(config.queue ? { queue: config.queue } : {}),
        },
        ctx,
      );
    }
    const url = base ? `${base}/v1/${config.project_id}/ams/report/metricdata` : aomEndpoints(config.region!, config.project_id).metricdata;
    const { client } = httpClient(config);
    const namespace = config.namespace!;
    const refusedOnce = new Set<string>();
    const rules = remoteWriteRules({ retryOn429: config.queue?.retry_on_http_429 ?? false });
    const queue = new DeliveryQueue<MetricDataItem>(
      queueOptions(config.queue, ctx, async (batch) => {
        const token = secret(config.token, config.token_file) ?? '';
        // Parts AOM accepted before one failed are not sent again: the queue retries the rest.
        let delivered = 0;
        for (const { body, items } of splitBySize(batch)) {
          try {
            const res = (await post(client, url, body, { 'content-type': 'application/json', 'x-auth-token': token }, rules)).body.toString('utf8');
            // AOM answers 200 with an errorCode; anything but success is a refusal.
            let code: string | undefined;
            try {
              code = (JSON.parse(res) as { errorCode?: string }).errorCode;
            } catch {
              code = undefined;
            }
            if (code && code !== 'SVCSTG_AMS_2000000') throw new DeliveryError(`AOM refused the data: ${res.slice(0, 300)}`, false);
          } catch (e) {
            throw (e instanceof DeliveryError ? e : new DeliveryError((e as Error).message, true)).after(delivered);
          }
          delivered += items;
        }
      }),
    );
    return {
      async start() {
        ctx.log.info('aom metricdata sink ready', { url, namespace });
      },
      write(batch) {
        const items: MetricDataItem[] = [];
        for (const s of batch) {
          const item = toMetricData(s, namespace, { ...(config.units ? { units: config.units } : {}), ...(config.external_labels ? { externalLabels: config.external_labels } : {}) });
          if (typeof item === 'string') {
            ctx.metrics.sinkDropped.labels(ctx.id, 'invalid').inc();
            if (!refusedOnce.has(s.name)) {
              refusedOnce.add(s.name);
              ctx.log.warn('AOM would refuse this metric; its samples are dropped', { metric: s.name, reason: item });
            }
          } else items.push(item);
        }
        queue.push(items);
      },
      flush: (deadline) => queue.flush(deadline),
      stop: () => queue.stop(Date.now() + 5000),
    };
  },
};

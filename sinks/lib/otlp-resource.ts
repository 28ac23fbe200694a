import { hostname } from 'node:os';
import type { Labels } from '../../engine/model/sample.js';

/** An OTLP attribute value as the encoder writes it (AnyValue's oneof). */
export type AttributeValue = { string_value: string } | { int_value: number };
export interface KeyValue {
  key: string;
  value: AttributeValue;
}

/**
 * Our process labels → OpenTelemetry's resource semantic conventions (process.*, container.*,
 * k8s.*): they describe where a sample came from, so they go on the resource, not on each data
 * point. Every other label stays a data point attribute.
 */
const RESOURCE_OF_LABEL: Record<string, { key: string; int?: true }> = {
  pid: { key: 'process.pid', int: true },
  comm: { key: 'process.executable.name' },
  exe: { key: 'process.executable.path' },
  container_id: { key: 'container.id' },
  namespace: { key: 'k8s.namespace.name' },
  pod: { key: 'k8s.pod.name' },
  container: { key: 'k8s.container.name' },
};

export interface ResourceOptions {
  /** Static attributes from config (service.name, deployment.environment.name, …); they win. */
  attributes?: Record<string, string>;
  /** The node, for host.name and k8s.node.name (NODE_NAME from the downward API). */
  host?: string;
  nodeName?: string;
}

export interface SplitLabels {
  /** Identity of the resource, for grouping points into one ResourceMetrics. */
  resourceKey: string;
  resource: KeyValue[];
  attributes: KeyValue[];
}

const str = (key: string, value: string): KeyValue => ({ key, value: { string_value: value } });

/**
 * Splits a sample's labels into its resource and its data point attributes. A sample from a
 * process is that process's resource: service.name is the process's container, or
 * `unknown_service:<executable name>` as the conventions say when no service is known, and
 * service.instance.id `<host>:<pid>` — unique on the node, new when the process restarts — so
 * a receiver that derives job/instance from them (Prometheus) keeps processes apart. A sample
 * of no process (a tracepoint's count) is the node's: service.name "probeflow".
 */
export function splitLabels(labels: Labels, o: ResourceOptions = {}): SplitLabels {
  const resource: KeyValue[] = [];
  const attributes: KeyValue[] = [];
  for (const [k, v] of Object.entries(labels)) {
    if (v === '') continue;
    const r = RESOURCE_OF_LABEL[k];
    if (!r) attributes.push(str(k, v));
    else resource.push(r.int && /^\d+$/.test(v) ? { key: r.key, value: { int_value: Number(v) } } : str(r.key, v));
  }
  const host = o.host ?? hostname();
  const given = o.attributes ?? {};
  const defaults: Record<string, string> = {
    'service.name': labels.pid ? (labels.container ?? (labels.comm ? `unknown_service:${labels.comm}` : 'unknown_service')) : 'probeflow',
    'service.instance.id': labels.pid ? `${host}:${labels.pid}` : host,
    'host.name': host,
    ...(o.nodeName ? { 'k8s.node.name': o.nodeName } : {}),
  };
  for (const [k, v] of Object.entries(defaults)) if (given[k] === undefined) resource.push(str(k, v));
  for (const [k, v] of Object.entries(given)) resource.push(str(k, v));
  resource.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const resourceKey = resource.map((kv) => `${kv.key}\u0001${'string_value' in kv.value ? kv.value.string_value : kv.value.int_value}`).join('\u0002');
  return { resourceKey, resource, attributes };
}

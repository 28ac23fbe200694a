import type { Registry } from 'prom-client';
import type { Sample } from '../../engine/model/sample.js';

/** prom-client's counters and gauges as samples (the engine registers no histograms). */
export async function selfMetricSamples(registry: Registry): Promise<Sample[]> {
  const now = Date.now();
  const out: Sample[] = [];
  for (const m of await registry.getMetricsAsJSON()) {
    const type = String(m.type);
    const kind = type === 'counter' ? 'counter' : type === 'gauge' ? 'gauge' : undefined;
    if (!kind) continue;
    for (const v of m.values) {
      const labels = Object.fromEntries(Object.entries(v.labels ?? {}).map(([k, x]) => [k, String(x)]));
      out.push({ kind, name: m.name, labels, timestamp: now, value: v.value, help: m.help });
    }
  }
  return out;
}

import { SAMPLE_KINDS, type Sample } from './sample.js';

/**
 * The NDJSON form of a sample: what the stdout sink writes and the replay probe reads, so a
 * recorded stream can be replayed through other stages.
 */
export function sampleToJson(s: Sample): string {
  return JSON.stringify(s, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
}

/** Parses one NDJSON line; throws with what is wrong so the caller can name the line. */
export function sampleFromJson(line: string): Sample {
  const o = JSON.parse(line) as Record<string, unknown>;
  const fail = (msg: string): never => {
    throw new Error(msg);
  };
  if (typeof o.name !== 'string' || !o.name) fail('"name" must be a non-empty string');
  if (!SAMPLE_KINDS.includes(o.kind as never)) fail(`"kind" must be one of ${SAMPLE_KINDS.join(', ')}`);
  if (typeof o.timestamp !== 'number') fail('"timestamp" must be epoch milliseconds');
  const labels = (o.labels ?? {}) as Record<string, unknown>;
  if (typeof labels !== 'object' || Object.values(labels).some((v) => typeof v !== 'string')) fail('"labels" must map names to strings');
  const num = (v: unknown) => (typeof v === 'string' && /^(NaN|-?Infinity)$/.test(v) ? Number(v) : v);
  if (o.kind === 'histogram') {
    const bounds = o.bounds as unknown;
    const counts = o.counts as unknown;
    if (!Array.isArray(bounds) || !Array.isArray(counts) || counts.length !== bounds.length + 1) fail('a histogram needs "bounds" and "counts" with one more count than bounds (+Inf)');
    return { kind: 'histogram', name: o.name as string, labels: labels as Record<string, string>, timestamp: o.timestamp as number, bounds: (bounds as unknown[]).map(num) as number[], counts: counts as number[], sum: num(o.sum) as number, count: o.count as number };
  }
  const value = num(o.value);
  if (typeof value !== 'number') fail('"value" must be a number');
  return { ...(o as object), value, labels } as Sample;
}

import type { Sample } from './sample.js';

/** One human-readable line per sample, Prometheus-like: `gauge  name{a="b"} 1.5  @12:00:01.250`. */
export function sampleToText(s: Sample): string {
  const labels = Object.entries(s.labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',');
  const series = `${s.name}${labels ? `{${labels}}` : ''}`;
  const time = new Date(s.timestamp).toISOString().slice(11, 23);
  let value: string;
  if (s.kind === 'histogram') {
    const buckets = s.counts.map((c, i) => `${i < s.bounds.length ? fmt(s.bounds[i]!) : '+Inf'}:${c}`).join(' ');
    value = `count=${s.count} sum=${fmt(s.sum)} [${buckets}]`;
  } else {
    value = fmt(s.value);
    if (s.kind === 'event' && s.fields) value += ' ' + JSON.stringify(s.fields);
  }
  return `${time} ${s.kind.padEnd(9)} ${series} ${value}`;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : Number(n.toPrecision(6)).toString();
}

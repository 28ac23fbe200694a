import type { PodLookup, ProbeFactory } from '../../engine/components/contracts.js';
import type { Sample } from '../../engine/model/sample.js';
import { SelfMetrics } from '../../engine/runtime/self-metrics.js';
import { seriesKey } from '../../engine/model/sample.js';
import { captureLogger } from './capture-logger.js';
import { WritePolicy } from '../../engine/security/write-policy.js';
import { waitFor } from './cli.js';

/** Subscribes a real probe and keeps the latest value of each series it reports. */
export function runProbe(factory: ProbeFactory, config: Record<string, unknown>, extra: { pods?: PodLookup } = {}) {
  const { logger: log, lines: logs } = captureLogger();
  const latest = new Map<string, Sample>();
  /** The first sample of each series: where a counter started. */
  const firsts = new Map<string, Sample>();
  const events: Sample[] = [];
  /** Series whose last sample carried `ended` (their process exited). */
  const ended: Sample[] = [];
  let error: unknown;
  const metrics = new SelfMetrics();
  const probe = factory.create({ type: factory.type, ...config }, { id: 'under-test', log, baseDir: process.cwd(), metrics, writePolicy: new WritePolicy([]), ...extra });
  const sub = probe.samples().subscribe({
    next: (batch) => {
      for (const s of batch) {
        if (s.kind === 'event') events.push(s);
        else {
          const key = seriesKey(s.name, s.labels);
          latest.set(key, s);
          if (!firsts.has(key)) firsts.set(key, s);
        }
        if (s.ended) ended.push(s);
      }
    },
    error: (e) => (error = e),
  });
  /** Every series named `name` of process `pid` (other labels may tell them apart). */
  const series = (name: string, pid: number | string) => [...latest.values()].filter((s) => s.name === name && s.labels.pid === String(pid));
  /** The value of the one series `name` of `pid`; throws if other labels split it into several. */
  const one = (name: string, pid: number | string, extra: Record<string, string> = {}) => {
    const found = series(name, pid).filter((s) => Object.entries(extra).every(([k, v]) => s.labels[k] === v));
    if (found.length > 1) throw new Error(`${name}{pid=${pid}} has ${found.length} series; say which with labels`);
    return found[0];
  };
  const value = (name: string, pid: number | string, extra: Record<string, string> = {}) => {
    const s = one(name, pid, extra);
    return s && s.kind !== 'histogram' ? s.value : undefined;
  };
  return {
    logs,
    /** The agent's own metrics as this probe updated them. */
    metrics,
    latest,
    /** The first sample of each series (by series key). */
    firsts,
    events,
    ended,
    value,
    get error() {
      return error;
    },
    series,
    /** The first value the one series `name` of `pid` had (a counter's start). */
    first: (name: string, pid: number | string, extra: Record<string, string> = {}) => {
      const s = one(name, pid, extra);
      const f = s && firsts.get(seriesKey(s.name, s.labels));
      return f && f.kind !== 'histogram' && f.kind !== 'event' ? f.value : undefined;
    },
    sample: (name: string, pid: number | string, extra: Record<string, string> = {}) => one(name, pid, extra),
    /** Waits until the probe tracks `pid` (attached, pid filter set). */
    tracking: (pid: number) => waitFor(() => logs.some((l) => l.msg === 'tracking process' && l.fields.pid === pid) || error !== undefined, 10_000, `probe to track pid ${pid}`),
    /** On a timeout, says what the probe had and logged then, so an intermittent failure explains itself. */
    waitValue: (name: string, pid: number | string, want: number) =>
      waitFor(() => value(name, pid) === want || error !== undefined, 10_000, `${name}{pid=${pid}} to reach ${want}`).catch((e: Error) => {
        const seen = [...latest.values()].filter((s) => s.name === name).map((s) => `${s.labels.pid}=${s.kind === 'histogram' ? s.count : s.value}`);
        const tail = logs.slice(-15).map((l) => `  ${l.msg} ${JSON.stringify(l.fields)}`);
        throw new Error(`${e.message} (now: ${value(name, pid)}; ${name} of pids ${seen.join(', ') || 'none'}); the probe's last log lines:\n${tail.join('\n')}`);
      }),
    stop: () => sub.unsubscribe(),
  };
}

import type { PodLookup, ProbeFactory } from '../../engine/components/contracts.js';
import type { Sample } from '../../engine/model/sample.js';
import { SelfMetrics } from '../../engine/runtime/self-metrics.js';
import { createLogger } from '../../engine/util/log.js';
import { waitFor } from './cli.js';

/** Subscribes a real probe and keeps the latest value of each series it reports. */
export function runProbe(factory: ProbeFactory, config: Record<string, unknown>, extra: { pods?: PodLookup } = {}) {
  const logs: { msg: string; fields: Record<string, unknown> }[] = [];
  const log = createLogger({
    level: 'debug',
    format: 'json',
    write: (line) => {
      const { msg, ...fields } = JSON.parse(line);
      logs.push({ msg, fields });
    },
  });
  const latest = new Map<string, Sample>();
  const events: Sample[] = [];
  let error: unknown;
  const probe = factory.create({ type: factory.type, ...config }, { id: 'under-test', log, baseDir: process.cwd(), metrics: new SelfMetrics(), ...extra });
  const sub = probe.samples().subscribe({
    next: (batch) => {
      for (const s of batch) {
        if (s.kind === 'event') events.push(s);
        else latest.set(`${s.name}|${s.labels.pid ?? ''}`, s);
      }
    },
    error: (e) => (error = e),
  });
  const value = (name: string, pid: number | string) => {
    const s = latest.get(`${name}|${pid}`);
    return s && s.kind !== 'histogram' ? s.value : undefined;
  };
  return {
    logs,
    latest,
    events,
    value,
    get error() {
      return error;
    },
    sample: (name: string, pid: number | string) => latest.get(`${name}|${pid}`),
    /** Waits until the probe tracks `pid` (attached, pid filter set). */
    tracking: (pid: number) => waitFor(() => logs.some((l) => l.msg === 'tracking process' && l.fields.pid === pid) || error !== undefined, 10_000, `probe to track pid ${pid}`),
    waitValue: (name: string, pid: number | string, want: number) =>
      waitFor(() => value(name, pid) === want || error !== undefined, 10_000, `${name}{pid=${pid}} to reach ${want} (last: ${value(name, pid)})`),
    stop: () => sub.unsubscribe(),
  };
}

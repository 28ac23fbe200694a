import { readdirSync } from 'node:fs';
import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * The agent's own footprint under the names every Prometheus client library uses
 * (process_cpu_seconds_total, process_resident_memory_bytes, …), so a node owner's existing
 * "process" panels and alerts see the agent. Read at scrape time, nothing in between; not
 * prom-client's collectDefaultMetrics, which adds event-loop and GC observers running all the
 * time for series nobody asked for.
 */
export function registerAgentProcessMetrics(registry: Registry): void {
  new Counter({
    name: 'process_cpu_seconds_total',
    help: 'User and system CPU time the agent spent, in seconds',
    registers: [registry],
    collect() {
      const { user, system } = process.cpuUsage();
      this.reset();
      this.inc((user + system) / 1e6);
    },
  });
  new Gauge({
    name: 'process_resident_memory_bytes',
    help: 'Resident memory of the agent, in bytes',
    registers: [registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({
    name: 'process_start_time_seconds',
    help: 'When the agent started, in seconds since the epoch',
    registers: [registry],
  }).set(Math.round(Date.now() / 1000 - process.uptime()));
  // BPF links, maps and perf events are fds: a count that only grows means something is not released.
  new Gauge({
    name: 'process_open_fds',
    help: 'Open file descriptors of the agent (BPF links, maps and programs included)',
    registers: [registry],
    collect() {
      this.set(readdirSync('/proc/self/fd').length);
    },
  });
  new Gauge({
    name: 'nodejs_heap_size_used_bytes',
    help: "V8's used heap, in bytes",
    registers: [registry],
    collect() {
      this.set(process.memoryUsage().heapUsed);
    },
  });
}

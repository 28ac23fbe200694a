import { spawn } from 'node:child_process';
import { waitFor } from './cli.js';

/** What test/workloads/go-fidelity prints of its own runtime at each phase. */
export interface Snapshot {
  phase: string;
  allocs_bytes: number;
  gc_cycles: number;
  pause_count: number;
  /** MemStats.PauseTotalNs: the runtime's own sum of GC pause time. */
  pause_total_ns: number;
  /** Non-GC stop-the-worlds (ReadMemStats calls) between "ready" and "done". */
  read_memstats: number;
  /** Goroutines parked forever since phase "work", and how long ago they were started. */
  leaked: number;
  leaked_age_seconds?: number;
  pause_counts: number[];
  pause_buckets: number[];
  /** /sched/latencies:seconds. */
  latency_counts: number[];
  latency_buckets: number[];
  goroutines: number;
  /** runtime.ThreadCreateProfile's count of Ms. */
  threads: number;
  /** /gc/heap/allocs:objects. */
  allocs_objects: number;
  /** /gc/heap/goal:bytes. */
  heap_goal_bytes: number;
  /** From Go 1.21 (runtime/metrics has them from then on). */
  gogc_percent?: number;
  gomemlimit_bytes?: number;
  heap_live_bytes?: number;
  waited_seconds: Record<'sleep' | 'chan receive' | 'mutex', number>;
  /** Phase "procs": GOMAXPROCS as the runtime has it after the change. */
  gomaxprocs?: number;
}

/**
 * test/workloads/go-fidelity under its stdin/stdout protocol (see its main.go): phases on a
 * line each, a snapshot of its runtime/metrics per phase. GOMAXPROCS=2 unless `env` says.
 */
export function startFidelityWorkload(bin: string, env: NodeJS.ProcessEnv = {}) {
  const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, GOMAXPROCS: '2', ...env } });
  const phases = new Map<string, Snapshot>();
  let buf = '';
  child.stdout!.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.startsWith('{')) {
        const s = JSON.parse(line) as Snapshot;
        phases.set(s.phase, s);
      }
    }
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    pid: child.pid!,
    phase: async (name: string, timeoutMs = 60_000) => {
      await waitFor(() => phases.has(name), timeoutMs, `workload phase ${name}`);
      return phases.get(name)!;
    },
    next: () => child.stdin!.write('\n'),
    /** The runtime's Ms now (after phase "final"), as runtime.ThreadCreateProfile counts them. */
    threads: async () => {
      phases.delete('threads');
      child.stdin!.write('threads\n');
      await waitFor(() => phases.has('threads'), 10_000, "the workload's thread count");
      return phases.get('threads')!.threads;
    },
    /** Sets GOMAXPROCS (after phase "final"); resolves once the runtime has it. */
    gomaxprocs: async (n: number) => {
      phases.delete('procs');
      child.stdin!.write(`procs ${n}\n`);
      await waitFor(() => phases.has('procs'), 10_000, 'the workload setting GOMAXPROCS');
      return phases.get('procs')!.gomaxprocs!;
    },
    /** Lets it run its phases to the end and exit. */
    finish: async () => {
      child.stdin!.end('\n');
      await exited;
    },
    /** Stops it wherever it is. */
    kill: async () => {
      child.stdin!.end();
      child.kill('SIGTERM');
      await exited;
    },
  };
}

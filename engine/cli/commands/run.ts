import type { Registry } from '../../components/registry.js';
import { ConfigLoader } from '../../config/load-config.js';
import { ConfigError, formatIssue } from '../../config/issue.js';
import type { Server } from 'node:http';
import { Engine, ReloadError } from '../../runtime/engine.js';
import type { SelfMetrics } from '../../runtime/self-metrics.js';
import type { WritePolicy } from '../../security/write-policy.js';
import { Reloader } from '../../runtime/reloader.js';
import { watchConfig } from '../../runtime/config-watcher.js';
import { startEngineHttp } from '../../runtime/engine-http.js';
import { runChecks } from '../../bpf/doctor.js';
import { setLibbpfLogger } from '../../bpf/native.js';
import { setKernelReleaseLogger } from '../../bpf/kernel-releases.js';
import { KubernetesMetadata } from '../../../probes/lib/kubernetes.js';
import type { Logger } from '../../util/log.js';
import { config as rxConfig } from 'rxjs';

export interface RunOptions {
  config: string;
  drainTimeoutMs: number;
  /** host:port of the engine's own endpoint, or '' for none. */
  httpListen: string;
  /** Poll the config file this often besides watching its directory; 0 = watch only. */
  watchIntervalMs: number;
  /** Where file-writing components may write (--allow-write). */
  writePolicy: WritePolicy;
}

/**
 * Last line of defence: RxJS rethrows an error thrown inside a subscriber's callback on a new
 * stack, where nothing catches it and the process dies. Probes route their callbacks' errors
 * into the probe (guarded()), stages and sinks catch per batch; what still escapes is logged
 * and counted here (probeflow_component_errors_total{kind="engine"}) instead of ending the agent.
 */
function containUnhandledRxErrors(log: Logger, metrics: SelfMetrics): void {
  rxConfig.onUnhandledError = (e: unknown) => {
    metrics.componentErrors.labels('engine', 'unhandled').inc();
    log.error('an error escaped a component callback; the agent keeps running (please report it)', { error: e });
  };
}

/** What `probeflow run` exits with (README, "Exit codes"). 2 is a usage error, from main. */
export const EXIT = {
  /** Stopped by SIGINT/SIGTERM with every sink drained, or every pipeline's source finished. */
  OK: 0,
  /** The config given at start was refused (its errors are on stderr); nothing ran. */
  CONFIG_REFUSED: 1,
  /** Stopped, but a sink had not flushed by --drain-timeout: samples may be lost. */
  NOT_DRAINED: 3,
} as const;

/**
 * Loads, starts and supervises the engine until a signal or until every pipeline finished.
 * The returned promise settles with the process exit code.
 */
export async function runCommand(opts: RunOptions, registry: Registry, log: Logger): Promise<number> {
  const loader = new ConfigLoader(registry, { writePolicy: opts.writePolicy });
  let loaded;
  try {
    loaded = loader.load(opts.config);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const i of e.issues) process.stderr.write(formatIssue(i) + '\n');
    log.error('config refused; nothing was started', { config: opts.config, errors: e.issues.filter((i) => i.severity === 'error').length });
    return EXIT.CONFIG_REFUSED;
  }
  for (const w of loaded.warnings) log.warn(formatIssue(w));

  // The same checks as `probeflow doctor`: say up front what will not work and why.
  for (const c of runChecks()) if (!c.ok) log.warn(`doctor: ${c.name}: ${c.detail}`, c.fix ? { fix: c.fix } : {});

  setLibbpfLogger(log.child({ component: 'libbpf' }));
  setKernelReleaseLogger(log.child({ component: 'bpf' }));
  // On a Kubernetes node, pod labels for processes; elsewhere inert.
  const kube = new KubernetesMetadata(log.child({ component: 'kubernetes' }));
  if (kube.enabled) await kube.start();
  const engine = new Engine(registry, log, { writePolicy: opts.writePolicy, ...(kube.enabled ? { pods: (cgroup: string) => kube.lookup(cgroup) } : {}) });
  containUnhandledRxErrors(log, engine.metrics);
  const { topology } = loaded;
  log.info('starting', {
    config: opts.config,
    probes: [...topology.probes.keys()],
    pipelines: topology.pipelines.map((p) => p.id),
    sinks: [...topology.sinks.keys()],
  });
  // Handlers before anything starts: a signal during start-up must not take the default action
  // (kill without draining, or for SIGHUP: die), it is acted on once the engine is up.
  const stopped = new Promise<string>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => resolve(sig);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  let hupDuringStart = false;
  let onHup = () => void (hupDuringStart = true);
  const hupListener = () => onHup();
  process.on('SIGHUP', hupListener);

  try {
    await engine.start(topology);
  } catch (e) {
    if (!(e instanceof ReloadError)) throw e;
    log.error('config refused; nothing was started', { config: opts.config, error: e.message });
    return EXIT.CONFIG_REFUSED;
  }
  const probes = Object.keys(engine.status().probes).length;
  const down = engine.down();
  const probesFailed = down.filter((c) => c.kind === 'probe').length;
  log.info('running', { probes_up: probes - probesFailed, probes_failed: probesFailed, sinks_failed: down.length - probesFailed });
  // Exiting would put a DaemonSet into a restart loop that looks healthy: stay, report not ready,
  // and let a reload (SIGHUP, a ConfigMap edit, POST /-/reload) mend it.
  if (down.length) log.warn('not ready: some components are down; the rest runs, /readyz says why, a reload retries them', { down: down.map((c) => `${c.kind}:${c.id}: ${c.error}`) });

  // Live reload: SIGHUP, a changed file (ConfigMap swaps included), POST /-/reload.
  const reloader = new Reloader(opts.config, loader, engine, log.child({ component: 'reload' }));
  reloader.started(loaded.text);
  onHup = () => void reloader.request('SIGHUP');
  if (hupDuringStart) onHup();
  const unwatch = watchConfig(opts.config, { pollMs: opts.watchIntervalMs, settled: (hash) => reloader.settled(hash), onChange: () => void reloader.request('file change'), log });
  let server: Server | undefined;
  if (opts.httpListen) {
    try {
      server = await startEngineHttp(opts.httpListen, engine, reloader, log);
    } catch (e) {
      log.error('engine endpoint not started; pipelines keep running without it', { error: e });
    }
  }

  const reason = await Promise.race([stopped, engine.done.then(() => 'all pipelines finished')]);
  log.info('stopping', { reason });
  process.off('SIGHUP', hupListener);
  unwatch();
  server?.close();
  server?.closeAllConnections();
  const clean = await engine.stop(opts.drainTimeoutMs);
  kube.stop();
  log.info('stopped', { clean });
  return clean ? EXIT.OK : EXIT.NOT_DRAINED;
}

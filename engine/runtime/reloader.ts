import { createHash } from 'node:crypto';
import type { ConfigLoader } from '../config/load-config.js';
import { formatIssue } from '../config/issue.js';
import type { Logger } from '../util/log.js';
import { ReloadError, type Engine, type ReloadChanges } from './engine.js';

export type ReloadResult = { ok: true; unchanged: boolean; changes?: ReloadChanges; hash: string } | { ok: false; errors: string[] };

export function configHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * read → parse → validate → build → apply, for SIGHUP, file changes and POST /-/reload alike.
 * Requests are coalesced: a reload starts once requests have been quiet for `debounceMs`
 * (at most `maxWaitMs` after the first), never while another runs, and every request in
 * the window gets that reload's result — a storm of SIGHUPs costs one reload. A refused
 * config changes nothing, and the same content is not tried again from file events.
 */
export class Reloader {
  private running: Promise<unknown> = Promise.resolve();
  private next?: { promise: Promise<ReloadResult>; resolve: (r: ReloadResult) => void; firstAt: number; timer?: NodeJS.Timeout; trigger: string };
  /** Hash of the config that runs. */
  hash = '';
  /** Hash of the last content refused: the same file is not refused (logged, counted) again. */
  private refusedHash?: string;

  constructor(
    private readonly file: string,
    private readonly loader: ConfigLoader,
    private readonly engine: Engine,
    private readonly log: Logger,
    private readonly debounceMs = 100,
    private readonly maxWaitMs = 1000,
  ) {
    for (const result of ['success', 'failure']) engine.metrics.reloads.labels(result).inc(0);
  }

  /** Marks the config already running (the initial load). */
  started(text: string): void {
    this.hash = configHash(text);
    this.refusedHash = undefined;
    this.engine.metrics.configInfo.reset();
    this.engine.metrics.configInfo.labels(this.hash).set(1);
    this.engine.metrics.reloadSuccessful.set(1);
    this.engine.metrics.reloadSuccessTime.set(Date.now() / 1000);
  }

  /**
   * Whether content with this hash needs no reload from a file event or poll: it is the running
   * config, or one already refused. SIGHUP and POST /-/reload always try again.
   */
  settled(hash: string): boolean {
    return hash === this.hash || hash === this.refusedHash;
  }

  request(trigger: string): Promise<ReloadResult> {
    if (!this.next) {
      let resolve!: (r: ReloadResult) => void;
      const promise = new Promise<ReloadResult>((r) => (resolve = r));
      this.next = { promise, resolve, firstAt: Date.now(), trigger };
    }
    const n = this.next;
    clearTimeout(n.timer);
    const wait = Math.max(0, Math.min(this.debounceMs, n.firstAt + this.maxWaitMs - Date.now()));
    n.timer = setTimeout(() => {
      this.next = undefined;
      const run = this.running.then(() => this.reload(n.trigger));
      this.running = run.catch(() => {});
      run.then(n.resolve, (e: unknown) => n.resolve({ ok: false, errors: [e instanceof Error ? e.message : String(e)] }));
    }, wait);
    return n.promise;
  }

  private async reload(trigger: string): Promise<ReloadResult> {
    const m = this.engine.metrics;
    let checked: ReturnType<ConfigLoader['check']>;
    try {
      checked = this.loader.check(this.file);
    } catch (e) {
      // check() reports what it knows as issues; anything else is refused like them, counted, not
      // lost — with no content hash to remember, so the next event tries again.
      return this.refuse(trigger, undefined, [(e as Error).message]);
    }
    const { issues, topology, text } = checked;
    const hash = configHash(text);
    const fail = (errors: string[]) => this.refuse(trigger, hash, errors);
    const errors = issues.filter((i) => i.severity === 'error');
    if (errors.length || !topology) return fail(errors.map(formatIssue));
    const down = this.downIds();
    if (hash === this.hash && down.length === 0) {
      m.reloads.labels('success').inc();
      m.reloadSuccessful.set(1);
      this.refusedHash = undefined;
      this.log.info('config unchanged; nothing to reload', { trigger, hash });
      return { ok: true, unchanged: true, hash };
    }
    // Unchanged but with parts down: applying it again retries them (the node may be fixed now).
    if (hash === this.hash) this.log.info('config unchanged; retrying the components that are down', { trigger, down });
    for (const w of issues) if (w.severity !== 'error') this.log.warn(formatIssue(w));
    let changes: ReloadChanges;
    try {
      changes = await this.engine.apply(topology);
    } catch (e) {
      if (e instanceof ReloadError) return fail([e.message]);
      throw e;
    }
    this.started(text);
    m.reloads.labels('success').inc();
    this.log.info('config reloaded', { trigger, hash, added: changes.added, changed: changes.changed, removed: changes.removed, kept: changes.kept.length, still_down: this.downIds() });
    return { ok: true, unchanged: false, changes, hash };
  }

  private refuse(trigger: string, hash: string | undefined, errors: string[]): ReloadResult {
    const m = this.engine.metrics;
    m.reloads.labels('failure').inc();
    m.reloadSuccessful.set(0);
    this.refusedHash = hash;
    this.log.error('config reload refused; the running pipelines are unchanged', { trigger, config: this.file, ...(hash ? { hash } : {}), errors });
    return { ok: false, errors };
  }

  private downIds(): string[] {
    return this.engine.down().map((c) => `${c.kind}:${c.id}`);
  }
}

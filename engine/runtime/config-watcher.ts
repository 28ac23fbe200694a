import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../util/log.js';
import { configHash } from './reloader.js';

/**
 * Notices a changed pipeline.yaml. Kubernetes mounts a ConfigMap as a directory where
 * pipeline.yaml links into `..data`, a symlink the kubelet swaps atomically (AtomicWriter:
 * new `..<timestamp>` dir, `..data_tmp` renamed over `..data`) — the file itself never
 * changes, so the directory is watched, events are debounced, and the decision is made on the
 * content's hash. A poll catches what watch events miss (some filesystems send none).
 */
export function watchConfig(file: string, opts: { debounceMs?: number; pollMs: number; settled: (hash: string) => boolean; onChange: () => void; log: Logger }): () => void {
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    let hash: string;
    try {
      hash = configHash(readFileSync(file, 'utf8'));
    } catch {
      return; // mid-swap or deleted: the next event or poll looks again
    }
    // The running config, or content already refused: nothing new to try.
    if (!opts.settled(hash)) opts.onChange();
  };
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(check, opts.debounceMs ?? 300);
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), (_event, name) => {
      if (!name || name === basename(file) || name.startsWith('..')) schedule();
    });
    watcher.on('error', (e) => opts.log.warn('config directory watch failed; relying on polling', { error: e }));
  } catch (e) {
    opts.log.warn('cannot watch the config directory; relying on polling', { error: e });
  }
  const poll = opts.pollMs > 0 ? setInterval(check, opts.pollMs) : undefined;
  // A change between loading the file and installing the watch sent no event: look once now.
  check();
  return () => {
    watcher?.close();
    clearTimeout(timer);
    clearInterval(poll);
  };
}

import { closeSync, constants, fstatSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SinkFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import { kinds } from '../engine/model/kinds.js';
import { sampleToJson } from '../engine/model/sample-json.js';
import { sampleToText } from '../engine/model/sample-text.js';
import type { FileSinkConfig } from '../schemas/types.generated.js';

const DEFAULT_MAX_BYTES = 64 << 20;
const DEFAULT_KEEP = 3;
// O_NOFOLLOW: a symlink planted at PATH after validation must not redirect the write.
const OPEN_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW;

export const fileSink: SinkFactory<FileSinkConfig> = {
  kind: 'sink',
  type: 'file',
  description: 'Samples appended to a file (NDJSON or text), rotated by size, inside the --allow-write directories',
  schema: loadComponentSchema('sink', 'file'),
  accepts: () => kinds('counter', 'gauge', 'histogram', 'event'),
  check(config, ctx) {
    const r = ctx.writePolicy.resolve(config.path, ctx.baseDir);
    return 'refused' in r ? [{ path: ['path'], message: r.refused }] : [];
  },
  claims(config, ctx) {
    const r = ctx.writePolicy.resolve(config.path, ctx.baseDir);
    return 'refused' in r ? [] : [`file:${r.path}`];
  },
  create(config, ctx) {
    const format = config.format === 'text' ? sampleToText : sampleToJson;
    const maxBytes = config.max_bytes ?? DEFAULT_MAX_BYTES;
    const keep = config.keep ?? DEFAULT_KEEP;
    let path = '';
    let fd: number | undefined;
    let size = 0;
    let failing = false;

    // Checked again when opening, not only at validation: the directories may have changed since.
    const open = () => {
      const r = ctx.writePolicy.resolve(config.path, ctx.baseDir);
      if ('refused' in r) throw new Error(r.refused);
      path = r.path;
      mkdirSync(dirname(path), { recursive: true });
      try {
        fd = openSync(path, OPEN_FLAGS, 0o640);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw new Error(`${path} is a symbolic link; the file sink writes only to a regular file it creates or appends to`);
        throw e;
      }
      size = fstatSync(fd).size;
    };
    const rotate = () => {
      closeSync(fd!);
      fd = undefined;
      if (keep === 0) rmSync(path, { force: true });
      else {
        rmSync(`${path}.${keep}`, { force: true });
        for (let i = keep - 1; i >= 1; i--) {
          try {
            renameSync(`${path}.${i}`, `${path}.${i + 1}`);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
          }
        }
        renameSync(path, `${path}.1`);
      }
      open();
    };

    return {
      async start() {
        open();
        ctx.log.info('writing samples to a file', { path, format: config.format ?? 'ndjson', max_bytes: maxBytes, keep });
      },
      write(batch) {
        if (batch.length === 0) return;
        const data = Buffer.from(batch.map(format).join('\n') + '\n');
        try {
          // Moved or deleted from outside (logrotate, an operator): reopen rather than write into an unlinked file.
          if (fd !== undefined && !sameFile(path, fd)) {
            closeSync(fd);
            fd = undefined;
          }
          if (fd === undefined) open();
          if (size > 0 && size + data.length > maxBytes) rotate();
          // A local file: a synchronous write per batch is short, and keeps rotation simple.
          writeSync(fd!, data);
          size += data.length;
          ctx.metrics.sinkSent.inc({ sink: ctx.id }, batch.length);
          if (failing) ctx.log.info('file sink writing again', { path });
          failing = false;
        } catch (e) {
          // A full disk or a removed directory costs this batch, not the agent; the next batch retries the open.
          ctx.metrics.sinkFailed.inc({ sink: ctx.id }, batch.length);
          if (!failing) ctx.log.warn('file sink cannot write; samples are dropped until it can', { path: path || config.path, error: e });
          failing = true;
          const broken = fd;
          fd = undefined;
          if (broken !== undefined) closeSync(broken);
        }
      },
      // Written synchronously per batch: nothing is ever buffered.
      flush: async () => true,
      async stop() {
        if (fd !== undefined) closeSync(fd);
        fd = undefined;
      },
    };
  },
};

function sameFile(path: string, fd: number): boolean {
  const named = statSync(path, { throwIfNoEntry: false });
  if (!named) return false;
  const open = fstatSync(fd);
  return named.ino === open.ino && named.dev === open.dev;
}

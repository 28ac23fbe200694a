import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { Observable } from 'rxjs';
import { guarded } from './lib/guarded.js';
import type { ProbeFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { ReplayProbeConfig } from '../schemas/types.generated.js';
import { kinds } from '../engine/model/kinds.js';
import type { Sample } from '../engine/model/sample.js';
import { sampleFromJson } from '../engine/model/sample-json.js';

/** Consecutive lines with the same timestamp were one batch when recorded; keep them together. */
function readBatches(file: string): Sample[][] {
  const batches: Sample[][] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let s: Sample;
    try {
      s = sampleFromJson(line);
    } catch (e) {
      throw new Error(`${file}:${i + 1}: not a sample: ${(e as Error).message}`);
    }
    const last = batches[batches.length - 1];
    if (last && last[0]!.timestamp === s.timestamp) last.push(s);
    else batches.push([s]);
  });
  return batches;
}

export const replayProbe: ProbeFactory<ReplayProbeConfig> = {
  kind: 'probe',
  type: 'replay',
  description: 'REPLAY recorded NDJSON samples (from the stdout sink) at recorded pace or fast; observes nothing live',
  schema: loadComponentSchema('probe', 'replay'),
  // Which kinds a file holds is only known once read; declare all so the graph stays honest.
  emits: () => kinds('counter', 'gauge', 'histogram', 'event'),
  create(config, ctx) {
    const file = isAbsolute(config.file) ? config.file : resolve(ctx.baseDir, config.file);
    return {
      samples: () =>
        new Observable<Sample[]>((subscriber) => {
          let batches: Sample[][];
          try {
            batches = readBatches(file);
          } catch (e) {
            subscriber.error(new Error(`replay: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? `no such file ${file}` : (e as Error).message}`));
            return;
          }
          if (batches.length === 0) {
            subscriber.complete();
            return;
          }
          const first = batches[0]![0]!.timestamp;
          const span = batches[batches.length - 1]![0]!.timestamp - first;
          let shift = config.timestamps === 'now' ? Date.now() - first : 0;
          let i = 0;
          let timer: NodeJS.Timeout | undefined;
          const step = () => {
            const batch = batches[i]!;
            subscriber.next(shift ? batch.map((s) => ({ ...s, timestamp: s.timestamp + shift })) : batch);
            i++;
            if (i === batches.length) {
              if (!config.loop) return subscriber.complete();
              i = 0;
              // The next round continues the timeline instead of jumping back in time.
              shift += span + 1000;
            }
            const gap = config.pace === 'fast' ? 0 : Math.max(0, batches[i]![0]!.timestamp - batches[(i || batches.length) - 1]![0]!.timestamp);
            timer = setTimeout(guardedStep, i === 0 ? (config.pace === 'fast' ? 0 : 1000) : gap);
          };
          const guardedStep = guarded(subscriber, step);
          step();
          return () => clearTimeout(timer);
        }),
    };
  },
};

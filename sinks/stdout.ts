import type { SinkFactory } from '../engine/components/contracts.js';
import { loadComponentSchema } from '../engine/components/load-schema.js';
import type { StdoutSinkConfig } from '../schemas/types.generated.js';
import { kinds } from '../engine/model/kinds.js';
import { sampleToJson } from '../engine/model/sample-json.js';
import { sampleToText } from '../engine/model/sample-text.js';

export const stdoutSink: SinkFactory<StdoutSinkConfig> = {
  kind: 'sink',
  type: 'stdout',
  description: 'Samples to stdout/stderr as NDJSON or human-readable text',
  schema: loadComponentSchema('sink', 'stdout'),
  accepts: () => kinds('counter', 'gauge', 'histogram', 'event'),
  create(config, ctx) {
    const stream = config.stream === 'stderr' ? process.stderr : process.stdout;
    const format = config.format === 'ndjson' ? sampleToJson : sampleToText;
    let broken = false;
    const onError = (e: Error) => {
      // A closed pipe (`probeflow run | head`) ends this sink, not the agent.
      if (!broken) ctx.log.warn('stdout sink stopped writing', { error: e });
      broken = true;
    };
    return {
      async start() {
        stream.on('error', onError);
      },
      write(batch) {
        if (broken || batch.length === 0) return;
        // One write per batch: a line per write would cost a syscall per sample.
        stream.write(batch.map(format).join('\n') + '\n');
      },
      flush: () =>
        new Promise<boolean>((resolve) => {
          if (broken) resolve(false);
          else if (stream.writableLength === 0) resolve(true);
          else stream.once('drain', () => resolve(true));
        }),
      async stop() {
        stream.off('error', onError);
      },
    };
  },
};

import type { SinkFactory } from '../engine/components/contracts.js';
import { aomSink } from './aom.js';
import { fileSink } from './file.js';
import { otlpSink } from './otlp.js';
import { prometheusSink } from './prometheus.js';
import { remoteWriteSink } from './remote-write.js';
import { stdoutSink } from './stdout.js';

export const builtinSinks: SinkFactory[] = [prometheusSink, remoteWriteSink, otlpSink, aomSink, stdoutSink, fileSink];

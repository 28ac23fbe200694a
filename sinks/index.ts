import type { SinkFactory } from '../engine/components/contracts.js';
import { stdoutSink } from './stdout.js';

export const builtinSinks: SinkFactory[] = [stdoutSink];

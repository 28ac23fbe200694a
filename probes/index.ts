import type { ProbeFactory } from '../engine/components/contracts.js';
import { bpfObjectProbe } from './bpf-object.js';
import { goRuntimeProbe } from './go-runtime.js';
import { kprobeProbe } from './kprobe.js';
import { rawTracepointProbe } from './raw-tracepoint.js';
import { replayProbe } from './replay.js';
import { syntheticProbe } from './synthetic.js';
import { tracepointProbe } from './tracepoint.js';
import { uprobeProbe } from './uprobe.js';

export const builtinProbes: ProbeFactory[] = [goRuntimeProbe, uprobeProbe, tracepointProbe, rawTracepointProbe, kprobeProbe, bpfObjectProbe, syntheticProbe, replayProbe];

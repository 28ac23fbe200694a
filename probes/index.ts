import type { ProbeFactory } from '../engine/components/contracts.js';
import { replayProbe } from './replay.js';
import { syntheticProbe } from './synthetic.js';

export const builtinProbes: ProbeFactory[] = [syntheticProbe, replayProbe];

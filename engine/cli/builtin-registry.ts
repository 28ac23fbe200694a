import { Registry } from '../components/registry.js';
import { builtinProbes } from '../../probes/index.js';
import { builtinSinks } from '../../sinks/index.js';
import { builtinStages } from '../../stages/index.js';

/** The composition root: the only place that names implementations. */
export function builtinRegistry(): Registry {
  return new Registry().register(...builtinProbes, ...builtinStages, ...builtinSinks);
}

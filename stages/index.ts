import type { StageFactory } from '../engine/components/contracts.js';
import { aggregateStage } from './aggregate.js';
import { deltaStage } from './delta.js';
import { filterStage } from './filter.js';
import { histogramStage } from './histogram.js';
import { rateStage } from './rate.js';
import { relabelStage } from './relabel.js';
import { thresholdStage } from './threshold.js';

export const builtinStages: StageFactory[] = [deltaStage, rateStage, histogramStage, thresholdStage, filterStage, relabelStage, aggregateStage];

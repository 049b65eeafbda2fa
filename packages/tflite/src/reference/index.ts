export { runReference, type ReferenceResult, type RefArray } from './interpreter.js';
export * as kernels from './kernels.js';
export { quantizeMultiplier, multiplyByQuantizedMultiplier, srdhm, roundingDivideByPOT, roundHalfAway } from './fixedpoint.js';
export { seededRandom } from './random.js';

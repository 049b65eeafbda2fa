export * from './fq.js';
export * from './plan.js';
export * from './ranges.js';
/** Kept for callers of 0.x: the Const value helper now lives in core's rewrite kit. */
export { constValue } from '@tfpass/core';
export * from './rewrite.js';
export * from './training.js';
export * from './bnfold.js';
export * from './check.js';
export * from './lint.js';
export { makePasses, register } from './passes.js';
export * from './calibrate.js';
export * from './freeze-ranges.js';
export * from './quantize-nodes.js';
export * from './bias-correction.js';
export * from './pitfalls.js';

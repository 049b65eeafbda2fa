export * from './fq.js';
export * from './plan.js';
export * from './ranges.js';
export * from './rewrite.js';
export * from './training.js';
export * from './bnfold.js';
export * from './check.js';
export * from './lint.js';
export { makePasses, register } from './passes.js';

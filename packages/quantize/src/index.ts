export * from './fq.js';
export * from './plan.js';
export * from './ranges.js';
export * from './rewrite.js';

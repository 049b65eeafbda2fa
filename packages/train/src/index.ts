export * from './wasm-grad-kernels.js';
export * from './demo-model.js';
export * from './qat.js';
export * from './pipeline.js';
export * from './demo.js';
export * from './report.js';
export * from './job.js';
export * from './coverage.js';

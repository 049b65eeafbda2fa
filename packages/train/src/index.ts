export * from './wasm-grad-kernels.js';
export * from './demo-model.js';

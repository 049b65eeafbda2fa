// Core's runtime helpers, handed to plugins through `api.lib`.
export * from './errors.js';
export * from './dtype.js';
export * from './tensor.js';
export * from './attrs.js';
export * from './graph.js';
export * from './io.js';
export * from './files.js';
export * from './pattern.js';
export * from './rewrite/index.js';
export * from './transform-string.js';
export * from './pass.js';
export * from './executor.js';
export * from './meta.js';
export * from './ops/index.js';
export * from './random.js';
export * from './fake-quant.js';
